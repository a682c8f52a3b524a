"""``keras-cxr train``: one command from a recipe and a dataset to a run directory."""

from pathlib import Path

HELP = "Train a model from a config (configs/*.yaml) on a manifest or class folders; resumable."


def add_parser(parser):
    parser.add_argument("--config", help="YAML recipe (configs/); without it, defaults + overrides "
                                         "(with --resume: the run's own config.yaml)")
    parser.add_argument("--data", required=True, help="manifest CSV (with or without a split column) or folder")
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument("--epochs", type=int, help="shortcut for training.epochs=N")
    parser.add_argument("--skip-bad", action="store_true",
                        help="shortcut for data.skip_bad=true: leave unreadable images out (listed in "
                             "OUT/bad_files.csv) instead of stopping before the first epoch")
    parser.add_argument("--init-from", metavar="RUN_OR_FILE",
                        help="fine-tune: start a new run from a trained run directory or .keras file "
                             "(recorded as model.init_from and in init_from.json)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true",
                       help="continue the run in --out exactly as configured (only more epochs may be asked for)")
    group.add_argument("--overwrite", action="store_true",
                       help="delete the previous keras_cxr run in --out first (nothing else is ever deleted)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")


def run(args):
    from keras_cxr.training import load_config, train

    overrides = list(args.overrides) + ([f"training.epochs={args.epochs}"] if args.epochs else [])
    overrides += ["data.skip_bad=true"] if args.skip_bad else []
    config_path = args.config
    saved = Path(args.out) / "config.yaml"
    if args.resume and config_path is None:
        if not saved.is_file():
            raise ValueError(f"Nothing to resume: {args.out} holds no run (no config.yaml). Drop --resume to start one")
        config_path = saved  # a resume continues the run's own recipe
    config = load_config(config_path, overrides)
    result = train(config, args.data, args.out, resume=args.resume, overwrite=args.overwrite,
                   init_from=args.init_from)
    print(f"Run directory: {result.run_dir}")
    print(f"Best {config['training']['monitor']}: {result.best_value:.4f} (epoch {result.best_epoch + 1}); "
          f"model: {result.run_dir / 'model.keras'}")
    return 0
