"""``keras-cxr crossval``: external validation, one training run per held-out source (or patient fold)."""

HELP = ("Leave-one-source-out (--by COLUMN) or patient-grouped k-fold (--folds K) cross-validation: one run per "
        "held-out group, each scored on that group; crossval.md/.csv/.json tabulate them. Resumable.")


def add_parser(parser):
    parser.add_argument("--data", required=True, help="manifest CSV or folder (its split column, if any, is not used)")
    parser.add_argument("--out", required=True, help="output folder: fold_<name>/{run,evaluation}/ and crossval.*")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--by", metavar="COLUMN",
                       help="hold out each value of this manifest column in turn (source: leave-one-source-out)")
    group.add_argument("--folds", type=int, metavar="K", help="K folds of whole patients, each the test set once")
    parser.add_argument("--config", help="YAML recipe or shipped recipe name, as for train (default: defaults + "
                                         "overrides)")
    parser.add_argument("--epochs", type=int, help="shortcut for training.epochs=N")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="bootstrap resamples of each fold's accuracy interval (default 1000)")
    parser.add_argument("--allow-overlap", action="store_true",
                        help="score a held-out group even if some of its files are identical to training files of "
                             "another group (the overlap is reported in each fold's metrics.json)")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value",
                        help="config overrides (data.val_fraction and data.split_seed set each fold's train/val split)")


def run(args):
    from keras_cxr.crossval import cross_validate
    from keras_cxr.training import load_config

    overrides = list(args.overrides) + ([f"training.epochs={args.epochs}"] if args.epochs else [])
    config = load_config(args.config, overrides)
    cross_validate(config, args.data, args.out, by=args.by, folds=args.folds, bootstrap_resamples=args.bootstrap,
                   allow_overlap=args.allow_overlap)
    print(open(f"{args.out}/crossval.md").read(), end="")
    return 0
