"""``keras-cxr reproduce PAPER --data DIR_OR_MANIFEST``: a paper's protocol and tables, end to end."""

from pathlib import Path

HELP = "Run a paper's whole protocol (split, recipes, metrics) and print its tables beside the paper's numbers."


def add_parser(parser):
    from keras_cxr.papers import PAPERS

    parser.add_argument("paper", choices=sorted(PAPERS), help="the paper (README: Papers and reproductions)")
    parser.add_argument("--data", required=True, help="the paper's dataset: a folder in its layout, or a manifest CSV")
    parser.add_argument("--layout", help="read --data with this layout instead of the paper's "
                                         "(keras-cxr data manifest --help lists them)")
    parser.add_argument("--out", help="output folder (default runs/reproduce/PAPER); rerunning continues it")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch, small inputs, 12 images per class and split, no pretrained weights: "
                             "checks the protocol end to end on a CPU in minutes (numbers meaningless)")
    parser.add_argument("--only", help="comma-separated rows (row or recipe names, e.g. dpn92_se,dpn92)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override for every row, e.g. --set data.augment=none (repeatable)")
    parser.add_argument("--external", help="an external test set scored by every row (Covid-DenseNet)")


def run(args):
    from keras_cxr.reproduce import reproduce

    out = Path(args.out or Path("runs") / "reproduce" / args.paper)
    reproduce(args.paper, args.data, out, layout=args.layout, quick=args.quick, only=args.only,
              overrides=args.overrides, external=args.external)
    print((out / "reproduce.md").read_text())
    print(f"Tables: {out / 'reproduce.md'}; numbers: {out / 'results.json'}; one run directory per row in {out}")
    return 0
