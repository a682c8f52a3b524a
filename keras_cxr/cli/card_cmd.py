"""``keras-cxr card RUN``: a model card from the run, an evaluation and an audit."""

HELP = ("Write model_card.md and model_card.json for a run: model and recipe, data and split, metrics with "
        "intervals (from an evaluation), calibration, audit findings, intended use and known limitations.")


def add_parser(parser):
    parser.add_argument("model", help="run directory or .keras file")
    parser.add_argument("--evaluation", help="a keras-cxr evaluate output folder (or its metrics.json)")
    parser.add_argument("--audit", help="a keras-cxr audit output folder (or its audit.json)")
    parser.add_argument("--out", help="folder for the card (default: beside the model, where export finds it)")


def run(args):
    from pathlib import Path

    from keras_cxr.evaluation.model_card import build_card, write_card

    card = build_card(args.model, args.evaluation, args.audit)
    folder = args.out or (args.model if Path(args.model).is_dir() else Path(args.model).parent)
    path = write_card(card, folder)
    print(f"Wrote {path} and model_card.json ({len(card['limitations'])} known limitation(s))")
    for line in card["limitations"]:
        print(f"  - {line}")
    return 0
