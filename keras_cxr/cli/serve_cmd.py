"""``keras-cxr serve``: a local web page to try a model on your own X-rays."""

from keras_cxr.cli.argtypes import coverage_or_zero

HELP = ("Try a model in the browser: drop X-rays, see calibrated probabilities, the conformal set, Grad-CAM, the "
        "model's input and its model card (local only by default).")


def add_parser(parser):
    parser.add_argument("model", metavar="RUN_OR_MODEL",
                        help="run directory or .keras file (with Grad-CAM), or a .tflite / SavedModel export")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the "
                             "network)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--conformal", type=coverage_or_zero, default=0.95, metavar="COVERAGE",
                        help="coverage of the conformal sets shown for a calibrated model (default 0.95; 0: none)")
    parser.add_argument("--save-dir", metavar="DIR",
                        help="keep each upload and its result here (default: uploads are not kept)")
    parser.add_argument("--max-upload-mb", type=float, default=64, help="largest file accepted (default 64)")


def run(args):
    from keras_cxr.serve import serve

    serve(args.model, args.host, args.port, coverage=args.conformal or None, save_dir=args.save_dir,
          max_upload_mb=args.max_upload_mb)
    return 0
