"""``keras-cxr models``: every registered network with its size and cost."""

import json

HELP = "List the registered models with parameter counts, GMACs and default input size."


def add_parser(parser):
    parser.add_argument("--num-classes", type=int, default=4, help="classes of the head (default 4)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("names", nargs="*", help="only these models (default: all)")


def model_table(names=None, num_classes=4):
    """One row per model: name, paper, default input, parameters and GMACs at that input."""
    import keras

    from keras_cxr.models import build_model, get_spec, list_models, profile

    rows = []
    for name in names or list_models():
        spec = get_spec(name)
        model = build_model(name, num_classes)
        stats = profile(model)
        rows.append(
            {
                "name": name,
                "paper": spec.paper,
                "input_shape": list(spec.default_input_shape),
                "params": stats["params"],
                "trainable_params": stats["trainable_params"],
                "gmacs": round(stats["gmacs"], 3),
                "description": spec.description,
            }
        )
        del model
        keras.backend.clear_session()
    return rows


def run(args):
    from keras_cxr.configs import list_recipes
    from keras_cxr.papers import PAPERS

    rows = model_table(args.names, args.num_classes)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max([len("paper")] + [len(row["paper"]) for row in rows])
    header = f"{'model':<24} {'paper':<{width}} {'input':<12} {'params':>13} {'GMACs':>7}  description"
    print(header)
    print("-" * len(header))
    for row in rows:
        shape = "x".join(str(d) for d in row["input_shape"])
        print(
            f"{row['name']:<24} {row['paper']:<{width}} {shape:<12} {row['params']:>13,d} "
            f"{row['gmacs']:>7.2f}  {row['description']}"
        )
    print(f"\n{len(rows)} models; parameters and GMACs for one image at the default input, {args.num_classes} classes.")
    print("Papers: " + "; ".join(f"{key} = {paper.cite}" for key, paper in PAPERS.items()))
    print("Recipes (keras-cxr train --config NAME): " + ", ".join(list_recipes()))
    return 0
