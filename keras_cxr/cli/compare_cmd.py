"""``keras-cxr compare``: the papers' comparison table from several evaluations."""

HELP = "Build a comparison table (Markdown + CSV) from several keras-cxr evaluate output directories."


def add_parser(parser):
    parser.add_argument("dirs", nargs="+", help="evaluation directories (each with metrics.json)")
    parser.add_argument("--out", required=True, help="Markdown table to write (CSV beside it)")


def run(args):
    from keras_cxr.evaluation import write_comparison

    write_comparison(args.dirs, args.out)
    print(open(args.out).read(), end="")
    return 0
