"""``keras-cxr demo``: the main job end to end on built-in synthetic data."""

HELP = "Run the whole pipeline on built-in synthetic X-rays: data, training, evaluation, explanations, export."


def add_parser(parser):
    from keras_cxr.demo import DEFAULTS

    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--model", default=DEFAULTS["model"], help=f"network (default {DEFAULTS['model']})")
    parser.add_argument("--input-size", "--size", dest="size", type=int,
                        help="model input size (default 80 for the VGG-style net, else 64)")
    parser.add_argument("--per-class", type=int, default=DEFAULTS["per_class"])
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"])


def run(args):
    from keras_cxr.demo import run_demo

    run_demo(args.out, model=args.model, input_size=args.size, per_class=args.per_class, epochs=args.epochs,
             batch_size=args.batch_size, seed=args.seed)
    return 0
