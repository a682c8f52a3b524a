"""``keras-cxr evaluate``: every metric, with intervals, figures and a report."""

import argparse

from keras_cxr.cli.argtypes import coverage_or_zero

HELP = ("Evaluate a trained model (run directory or .keras) on a manifest split: metrics, figures, report.md and "
        "report.html with an image browser.")


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory or .keras file")
    parser.add_argument("--data", required=True, help="manifest CSV or folder")
    parser.add_argument("--split", default="test",
                        help="split to evaluate (default test). Data without a split column is scored on the run's "
                             "own split when it is the run's training data, and refused otherwise")
    parser.add_argument("--all-images", action="store_true",
                        help="score every image of the data (an external test set); same as --split all")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="evaluate even if images share a patient or file with the run's training split "
                             "(the overlap is reported)")
    parser.add_argument("--group-by", metavar="COLUMN",
                        help="also report metrics per value of a manifest column (population, source, site, sex)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--positive-class", help="class scored against the rest (e.g. COVID-19)")
    parser.add_argument("--class-map", help="JSON or CSV mapping the data's labels to the model's classes")
    parser.add_argument("--tta", action="store_true", help="average with the horizontally flipped image")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000; 0: none)")
    parser.add_argument("--target-sensitivity", type=float, metavar="S",
                        help="with --positive-class: choose the threshold reaching this sensitivity on the val split "
                             "and report sensitivity, specificity, PPV and NPV at it on the evaluated split")
    parser.add_argument("--prevalence", type=_fractions, default=(), metavar="P[,P...]",
                        help="with --target-sensitivity: also PPV and NPV where the disease has these prevalences "
                             "(e.g. 0.02,0.1)")
    parser.add_argument("--conformal", type=coverage_or_zero, default=0.95, metavar="COVERAGE",
                        help="for a calibrated run (keras-cxr calibrate): coverage of the conformal prediction sets "
                             "whose empirical coverage and size are reported (default 0.95; 0: none)")
    parser.add_argument("--throughput", action=argparse.BooleanOptionalAction, default=True,
                        help="time the model at batch 1 and 32 for the report (default on; --no-throughput skips it)")
    parser.add_argument("--report-images", type=int, default=200, metavar="N",
                        help="images in report.html's browser, misclassified first, each with a Grad-CAM overlay "
                             "(default 200; 0: none; -1: every image)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="score the readable images when some cannot be read; the others are listed with their "
                             "reasons in metrics.json, report.md and bad_files.csv (default: stop and list them)")


def _fractions(text):
    import argparse

    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated fractions such as 0.02,0.1, got {text!r}")
    if not all(0 < v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"prevalences are fractions between 0 and 1, got {text!r}")
    return values


def run(args):
    from keras_cxr.evaluation import evaluate
    from keras_cxr.evaluation.operating_point import describe_operating_point

    split = None if args.all_images or args.split == "all" else args.split
    metrics = evaluate(args.model, args.data, args.out, split=split, positive_class=args.positive_class,
                       class_map=args.class_map, tta=args.tta, batch_size=args.batch_size,
                       bootstrap_resamples=args.bootstrap, group_by=args.group_by, allow_overlap=args.allow_overlap,
                       skip_bad=args.skip_bad, target_sensitivity=args.target_sensitivity,
                       prevalences=args.prevalence, conformal=args.conformal or None,
                       report_images=args.report_images, throughput=args.throughput)
    ci = metrics["bootstrap_95ci"]["accuracy"]
    interval = (f" (95% CI {100 * ci['lower']:.2f}-{100 * ci['upper']:.2f})"
                if ci.get("lower") is not None and ci.get("upper") is not None else "")
    print(f"{metrics['num_images']} images: accuracy {100 * metrics['accuracy']:.2f}%{interval}, "
          f"macro-F1 {100 * metrics['average']['macro']['f1']:.2f}%, macro AUC {metrics['roc_auc']['macro'] or 0:.4f}")
    overlap = metrics["training_overlap"]
    if overlap.get("checked"):
        print(f"Overlap with the run's training split: {overlap['images_overlapping']} image(s)")
    else:
        print(f"Overlap with training not checked: {overlap['reason']}")
    for group, v in metrics.get("by_group", {}).items():
        a = v["accuracy"]
        print(f"  {metrics['group_by']}={group}: {v['num_images']} images, accuracy {100 * a['value']:.2f}% "
              f"({100 * (a['lower'] or 0):.2f}-{100 * (a['upper'] or 0):.2f})")
    skipped = metrics.get("skipped_files", [])
    if skipped:
        print(f"Left out {len(skipped)} unreadable image(s) (--skip-bad; listed in {args.out}/bad_files.csv):")
        for entry in skipped:
            print(f"  {entry['path']}: {entry['reason']}")
    if "temperature_scaling" in metrics:
        scaling = metrics["temperature_scaling"]
        print(f"Calibrated with temperature {scaling['temperature']:.3f}: ECE {scaling['uncalibrated']['ece']:.4f} -> "
              f"{scaling['calibrated']['ece']:.4f}")
    if "conformal" in metrics:
        c = metrics["conformal"]
        print(f"Conformal sets at {100 * c['target_coverage']:.0f}%: coverage {100 * c['coverage']:.2f}%, "
              f"mean size {c['mean_set_size']:.2f}, {100 * c['singletons']:.1f}% single-class")
    if "operating_point" in metrics:
        print(describe_operating_point(metrics["operating_point"], args.positive_class))
    print(f"Report: {args.out}/report.html (open it in a browser), {args.out}/report.md")
    return 0
