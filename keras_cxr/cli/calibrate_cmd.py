"""``keras-cxr calibrate RUN``: temperature scaling and conformal scores from the validation split."""

HELP = ("Fit a temperature (calibrated probabilities) and conformal prediction-set scores on a run's val split; "
        "stored with the run (calibration.json) and applied by predict, evaluate and export.")


def add_parser(parser):
    parser.add_argument("model", help="run directory or .keras file")
    parser.add_argument("--data", help="manifest whose val split to fit on (default: the run's own split.csv)")
    parser.add_argument("--class-map", help="JSON or CSV mapping the data's labels to the model's classes")
    parser.add_argument("--class-conditional", action="store_true",
                        help="calibrate the conformal sets per true class (coverage holds for each class, "
                             "sets grow for classes with few val images)")
    parser.add_argument("--tta", action="store_true",
                        help="fit on probabilities averaged with the flipped image, for evaluate --tta")
    parser.add_argument("--batch-size", type=int, default=32)


def run(args):
    from keras_cxr.evaluation.calibrate import FIGURE, calibrate
    from keras_cxr.models.loading import CALIBRATION_FILE

    result = calibrate(args.model, args.data, class_map=args.class_map, class_conditional=args.class_conditional,
                       tta=args.tta, batch_size=args.batch_size)
    fitted = result["fitted_on"]
    print(f"Temperature {result['temperature']:.3f} fitted on {fitted['images']} val images of {fitted['data']}")
    print(f"  NLL {result['nll']['before']:.4f} -> {result['nll']['after']:.4f}, "
          f"ECE {result['ece']['before']:.4f} -> {result['ece']['after']:.4f} (on the val images)")
    kind = "class-conditional" if args.class_conditional else "marginal"
    print(f"  conformal scores stored ({kind}): predict --conformal 0.95 gives prediction sets")
    for warning in result["warnings"]:
        print(f"  WARNING: {warning}")
    print(f"Wrote {CALIBRATION_FILE} and {FIGURE} beside the model; evaluate on the test split to judge it")
    return 0
