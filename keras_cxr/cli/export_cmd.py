"""``keras-cxr export``: SavedModel or TFLite, with a parity check against Keras."""

HELP = "Export a trained model to SavedModel or TFLite (float32/float16/dynamic/int8) with a parity check."


def add_parser(parser):
    parser.add_argument("--model", required=True, help="run directory or .keras file")
    parser.add_argument("--format", default="tflite", choices=["saved_model", "tflite"])
    parser.add_argument("--quantize", default="none", choices=["none", "float16", "dynamic", "int8"])
    parser.add_argument("--calibration-data", help="manifest or folder: int8 calibration and parity images")
    parser.add_argument("--out", required=True, help=".tflite file or SavedModel folder")


def run(args):
    from keras_cxr.export import export_model
    from keras_cxr.export.exporter import ExportError
    from keras_cxr.export.tflite import ConversionError

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
    return 0
