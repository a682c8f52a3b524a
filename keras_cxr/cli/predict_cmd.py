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
                        help="replace an existing --out file instead of resuming it (with --runner beam: the --output shards)")
    parser.add_argument("--conformal", type=coverage, metavar="COVERAGE",
                        help="also output each image's conformal prediction set at this coverage (e.g. 0.95): every "
                             "class the model cannot rule out; needs a model calibrated by keras-cxr calibrate")
    parser.add_argument("inputs", nargs="*", help="images, folders and/or manifest .csv files (local runner)")
    beam = parser.add_argument_group("Apache Beam (pip install keras-cxr[beam])")
    beam.add_argument("--runner", choices=("local", "beam"), default="local",
                      help="local: this process (default); beam: an Apache Beam pipeline with RunInference "
                           "(DirectRunner here, Dataflow/Flink/Spark through --beam-options)")
    beam.add_argument("--input", metavar="PATTERN", help="with --runner beam: a file pattern (e.g. 'xrays/**.png', "
                                                          "'gs://bucket/cxr/*.dcm'); every match is scored")
    beam.add_argument("--output", metavar="PREFIX",
                      help="with --runner beam: write PREFIX-SSSSS-of-NNNNN.csv shards (predict's CSV columns) "
                           "and the dead letters PREFIX_errors-*.csv (path, error)")
    beam.add_argument("--output-format", choices=("csv", "jsonl"), default="csv",
                      help="with --runner beam: CSV shards (default) or JSON lines (predict --json's records)")
    beam.add_argument("--beam-options", default="", metavar="FLAGS",
                      help="Beam pipeline options in one string, e.g. "
                           "'--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing'")
    beam.add_argument("--min-batch-size", type=int, default=1,
                      help="with --runner beam: smallest batch Beam forms (--batch-size is the largest)")


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


def _check_runner_options(args):
    """Each runner's options, refused with the other's: a silently ignored flag would mislead."""
    if args.runner == "beam":
        given = [flag for flag, value in (("--out", args.out), ("--json", args.json), ("inputs", args.inputs))
                 if value]
        if given:
            raise ValueError(f"--runner beam reads --input PATTERN and writes --output PREFIX; drop {', '.join(given)}")
        if not (args.input and args.output):
            raise ValueError("--runner beam needs --input PATTERN and --output PREFIX")
        return
    given = [flag for flag, value in (("--input", args.input), ("--output", args.output),
                                      ("--beam-options", args.beam_options),
                                      ("--output-format", args.output_format != "csv"),
                                      ("--min-batch-size", args.min_batch_size != 1)) if value]
    if given:
        raise ValueError(f"{', '.join(given)} only apply with --runner beam (the local runner takes image paths "
                         "and --out)")
    if not args.inputs:
        raise ValueError("give images, folders or manifest .csv files to predict (or --runner beam --input PATTERN)")


def _run_beam(args):
    """The Beam pipeline; counts on stdout, exit 1 when any file went to the dead letters."""
    from keras_cxr.predict.beam import run_beam_predictions

    summary = run_beam_predictions(args.model, args.input, args.output, beam_options=args.beam_options,
                                   batch_size=args.batch_size, min_batch_size=args.min_batch_size,
                                   conformal=args.conformal, output_format=args.output_format,
                                   overwrite=args.overwrite)
    print(f"Scored {summary['scored']} of {summary['matched']} file(s) into {summary['output']}"
          + (f"; {summary['errors']} not scored (unreadable, or the model failed), listed with the reason in "
             f"{summary['errors_output']}" if summary["errors"] else ""))
    if summary["missing"]:
        print(f"WARNING: {summary['missing']} matched file(s) are in neither output (files changed during the "
              "run, or the runner reports no metrics)")
    return 1 if summary["errors"] or summary["missing"] else 0


def run(args):
    _check_runner_options(args)
    if args.runner == "beam":
        return _run_beam(args)
    if args.out:
        return _run_csv(args)
    if args.overwrite:
        raise ValueError("--overwrite only applies with --out")
    from keras_cxr.predict import predict_paths

    results = predict_paths(args.model, args.inputs, batch_size=args.batch_size, conformal=args.conformal)
    _print_records(results, args.json)
    return 1 if any("error" in r for r in results) else 0
