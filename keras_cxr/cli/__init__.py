"""``keras-cxr``: a thin command line over the keras_cxr library.

Each subcommand lives in its own module with two functions: ``add_parser``
(its arguments) and ``run`` (calls library functions a notebook can call too).
Heavy imports (TensorFlow) happen inside ``run``, so ``keras-cxr --help`` is fast.
"""

import argparse
import importlib
import os
import sys

from keras_cxr import __version__

# Subcommand name -> module under keras_cxr.cli, in pipeline order.
COMMANDS = {
    "demo": "keras_cxr.cli.demo_cmd",
    "data": "keras_cxr.cli.data_cmd",
    "audit": "keras_cxr.cli.audit_cmd",
    "models": "keras_cxr.cli.models_cmd",
    "weights": "keras_cxr.cli.weights_cmd",
    "train": "keras_cxr.cli.train_cmd",
    "calibrate": "keras_cxr.cli.calibrate_cmd",
    "evaluate": "keras_cxr.cli.evaluate_cmd",
    "compare": "keras_cxr.cli.compare_cmd",
    "card": "keras_cxr.cli.card_cmd",
    "crossval": "keras_cxr.cli.crossval_cmd",
    "explain": "keras_cxr.cli.explain_cmd",
    "export": "keras_cxr.cli.export_cmd",
    "predict": "keras_cxr.cli.predict_cmd",
    "serve": "keras_cxr.cli.serve_cmd",
    "bench": "keras_cxr.cli.bench_cmd",
    "reproduce": "keras_cxr.cli.reproduce_cmd",
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-cxr",
        description="Chest X-ray classification with Keras 3: data, models, training, evaluation, "
        "explanations and export.",
    )
    parser.add_argument("--version", action="version", version=f"keras-cxr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_parser(sub)
        sub.set_defaults(_run=module.run)
    return parser


# Options whose value is itself a string of flags ("--runner=DirectRunner ..."): argparse would read such a
# value as an option (here as predict's own --runner), so it is glued on as --option=value before parsing.
FLAG_VALUED_OPTIONS = ("--beam-options",)


def _glue_flag_values(argv):
    argv, glued = list(argv), []
    while argv:
        word = argv.pop(0)
        glued.append(f"{word}={argv.pop(0)}" if word in FLAG_VALUED_OPTIONS and argv else word)
    return glued


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args, extra = parser.parse_known_args(_glue_flag_values(sys.argv[1:] if argv is None else argv))
    # key.sub=value overrides may stand anywhere on the line (argparse stops
    # collecting a trailing positional list at the first option).
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    from keras_cxr.errors import KerasCxrError

    try:
        return args._run(args) or 0
    except (ValueError, FileNotFoundError, KerasCxrError) as error:  # ConfigError, RunDirectoryError, bad data ...
        print(f"keras-cxr {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
