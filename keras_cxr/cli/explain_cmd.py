"""``keras-cxr explain``: where does the model look?"""

HELP = "Explain predictions with Grad-CAM, Grad-CAM++, Score-CAM, saliency or LIME; overlays and pointing game."


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory or .keras file")
    parser.add_argument("--method", default="gradcam",
                        help="gradcam, gradcam++, scorecam, saliency, lime, or several joined by commas")
    parser.add_argument("--class", dest="class_name", help="class to explain (default: the predicted one)")
    parser.add_argument("--layer", help="feature map for CAM methods (default: chosen per model)")
    parser.add_argument("--masks", help="folder of lesion masks (same file names) for the pointing game")
    parser.add_argument("--lime-samples", type=int, default=300)
    parser.add_argument("--lime-segmentation", default="slic", choices=["slic", "quickshift", "felzenszwalb"])
    parser.add_argument("--scorecam-max-n", type=int, default=32)
    parser.add_argument("--smooth-samples", type=int, default=0,
                        help="saliency only: SmoothGrad's noisy copies averaged per image (default 0: plain gradients)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="images read and explained at a time; memory holds one batch of full-size images")
    parser.add_argument("--out", required=True)
    parser.add_argument("inputs", nargs="+", help="images, folders and/or manifest .csv files")


def run(args):
    from keras_cxr.explain import METHODS, explain_paths

    methods = [m.strip() for m in args.method.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {unknown}. Valid choices: {list(METHODS)}")
    summary = explain_paths(args.model, args.inputs, args.out, methods=methods, class_name=args.class_name,
                            layer=args.layer, masks=args.masks, lime_samples=args.lime_samples,
                            lime_segmentation=args.lime_segmentation, scorecam_max_n=args.scorecam_max_n,
                            smooth_samples=args.smooth_samples,
                            batch_size=args.batch_size)
    print(f"Explained {summary['images']} image(s) with {', '.join(methods)} -> {args.out}")
    for error in summary["errors"]:
        print(f"  skipped {error['path']}: {error['error']}")
    for method, score in summary.get("pointing_game", {}).items():
        print(f"  {method}: pointing-game hit rate {score['hit_rate']:.1%} over {score['images']} lesion images "
              f"(chance {score['mask_share']:.1%}), map energy inside lesion {score['energy_inside']:.1%}")
    return 1 if summary["errors"] else 0
