"""``keras-cxr predict``: class probabilities per image (.keras, SavedModel or .tflite), in batches."""

import json

from keras_cxr.cli.argtypes import coverage

HELP = "Predict classes for images with a .keras, SavedModel or .tflite model (.tflite needs no TensorFlow)."


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory, .keras, SavedModel folder or .tflite")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON")
    output.add_argument("--out", help="write a CSV (path, prob_<class>..., predicted, error), a batch at a time; "
                                      "a re-run with the same --out skips the images already written")
    parser.add_argument("--batch-size", type=int, default=32, help="images per model call (default 32)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing --out file instead of resuming it")
    parser.add_argument("--conformal", type=coverage, metavar="COVERAGE",
                        help="also output each image's conformal prediction set at this coverage (e.g. 0.95): every "
                             "class the model cannot rule out; needs a model calibrated by keras-cxr calibrate")
    parser.add_argument("inputs", nargs="+", help="images, folders and/or manifest .csv files")


def _print_records(results, as_json):
    """The small-run output: one line per image, or JSON."""
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        if "error" in r:
            print(f"{r['path']}: ERROR {r['error']}")
        else:
            probs = ", ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
            chosen = f" set {{{', '.join(r['set'])}}}" + _set_flag(r["set"]) if "set" in r else ""
            print(f"{r['path']}: {r['predicted']} ({probs}){chosen}")


def _set_flag(names):
    """Two or more classes: the model cannot decide; none: no class fits the image at this coverage."""
    return " AMBIGUOUS" if len(names) > 1 else " NO CLASS FITS" if not names else ""


def _run_csv(args):
    """The large-run output: a resumable CSV, and counts on stdout."""
    from keras_cxr.predict import predict_to_csv

    summary = predict_to_csv(args.model, args.inputs, args.out, batch_size=args.batch_size,
                             overwrite=args.overwrite, conformal=args.conformal)
    if summary["skipped"]:
        print(f"Resumed {summary['out']}: skipped {summary['skipped']} of {summary['total']} image(s) "
              f"already written there")
    print(f"Wrote {summary['written']} row(s) to {summary['out']}"
          + (f" ({summary['errors']} unreadable: see its 'error' column)" if summary["errors"] else ""))
    return 1 if summary["errors"] else 0


def run(args):
    if args.out:
        return _run_csv(args)
    if args.overwrite:
        raise ValueError("--overwrite only applies with --out")
    from keras_cxr.predict import predict_paths

    results = predict_paths(args.model, args.inputs, batch_size=args.batch_size, conformal=args.conformal)
    _print_records(results, args.json)
    return 1 if any("error" in r for r in results) else 0
