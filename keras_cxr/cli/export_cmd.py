"""``keras-cxr export``: SavedModel or TFLite, with a parity check against Keras."""

import sys

HELP = "Export a trained model to SavedModel or TFLite (float32/float16/dynamic/int8) with a parity check."


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory or .keras file")
    parser.add_argument("--format", default="tflite", choices=["saved_model", "tflite"])
    parser.add_argument("--quantize", default="none", choices=["none", "float16", "dynamic", "int8"])
    parser.add_argument("--calibration-data", help="manifest or folder of labelled images: int8 calibration (up to "
                                                   "100, spread over it) and parity images (the others)")
    parser.add_argument("--out", required=True, help=".tflite file or SavedModel folder")


def _points(value):
    return "n/a" if value is None else f"{value * 100:+.1f} points"


def _through_tensorflow(args):
    """Export builds a TensorFlow graph; a .keras file trained under JAX or PyTorch loads the same under TensorFlow."""
    import os
    import subprocess

    import keras

    print(f"keras-cxr export: the {keras.backend.backend()} backend cannot build the TensorFlow graph; exporting "
          "in a TensorFlow-backend process", file=sys.stderr)
    command = [sys.executable, "-m", "keras_cxr.cli", "export", "--model", args.model, "--format", args.format,
               "--quantize", args.quantize, "--out", args.out]
    command += ["--calibration-data", args.calibration_data] if args.calibration_data else []
    return subprocess.run(command, env=dict(os.environ, KERAS_BACKEND="tensorflow")).returncode


def run(args):
    import keras

    if keras.backend.backend() != "tensorflow":
        return _through_tensorflow(args)
    from keras_cxr.export import export_model
    from keras_cxr.export.exporter import ExportError
    from keras_cxr.export.tflite import ConversionError

    if args.quantize == "int8" and not args.calibration_data:
        print("Note: int8 ranges are calibrated on synthetic X-rays; pass --calibration-data (e.g. the training "
              "manifest) to calibrate on your images", file=sys.stderr)
    try:
        report = export_model(args.model, args.out, format=args.format, quantize=args.quantize,
                              calibration_data=args.calibration_data)
    except (ExportError, ConversionError) as error:
        raise ValueError(str(error)) from None
    p = report["parity"]
    print(f"Exported {report['model']} -> {report['path']} ({report['size_bytes'] / 1e6:.2f} MB, "
          f"{args.format}/{args.quantize}); labels: {report['labels']}")
    print(f"Parity with Keras on {p['images']} images: top-1 agreement {p['top1_agreement']:.1%}, "
          f"largest probability difference {p['max_abs_prob_diff']:.4f}")
    if p["top1_agreement"] < 1.0:
        print(f"Changed decisions: all where Keras's top-1 probability led the next class by at most "
              f"{p['largest_changed_margin']:.2f}")
    if p.get("labelled_images"):
        print(f"On {p['labelled_images']} labelled images: accuracy {_points(p['accuracy']['delta'])}, "
              f"macro AUC {_points(p['macro_auc']['delta'])} against Keras")
    return 0
