"""``keras-cxr predict``: class probabilities per image (.keras, SavedModel or .tflite)."""

import json

HELP = "Predict classes for images with a .keras, SavedModel or .tflite model (.tflite needs no TensorFlow)."


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory, .keras, SavedModel folder or .tflite")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("inputs", nargs="+", help="images and/or folders")


def run(args):
    from keras_cxr.predict import predict_paths

    results = predict_paths(args.model, args.inputs)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['path']}: ERROR {r['error']}")
            else:
                probs = ", ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
                print(f"{r['path']}: {r['predicted']} ({probs})")
    return 1 if any("error" in r for r in results) else 0
