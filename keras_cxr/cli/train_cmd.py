"""``keras-cxr train``: one command from a recipe and a dataset to a run directory."""

HELP = "Train a model from a config (configs/*.yaml) on a manifest or class folders; resumable."


def add_parser(parser):
    parser.add_argument("--config", help="YAML recipe (configs/); without it, defaults + overrides")
    parser.add_argument("--data", required=True, help="manifest CSV (with or without a split column) or folder")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--epochs", type=int, help="shortcut for training.epochs=N")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue a run in --out even if its config differs")
    group.add_argument("--overwrite", action="store_true", help="delete --out first")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")


def run(args):
    from keras_cxr.training import load_config, train

    overrides = list(args.overrides) + ([f"training.epochs={args.epochs}"] if args.epochs else [])
    config = load_config(args.config, overrides)
    result = train(config, args.data, args.out, resume=args.resume, overwrite=args.overwrite)
    print(f"Run directory: {result.run_dir}")
    print(f"Best {config['training']['monitor']}: {result.best_value:.4f} (epoch {result.best_epoch + 1}); "
          f"model: {result.run_dir / 'model.keras'}")
    return 0
