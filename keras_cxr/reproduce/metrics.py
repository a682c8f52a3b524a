"""One flat dict of the numbers the papers' tables report, from an evaluation's ``metrics.json``."""

COVID = "COVID-19"


def row_metrics(metrics, external=None):
    """``metrics``: what :func:`keras_cxr.evaluation.evaluate` returned; ``external``: the same on an external set."""
    classes = metrics["classes"]
    out = {
        "accuracy": metrics["accuracy"],
        "params": metrics["model"]["params"],
        "gmacs": metrics["model"]["gmacs"],
        "keras_micro_precision": metrics["keras_micro"]["precision"],
        "keras_micro_recall": metrics["keras_micro"]["recall"],
        "num_images": metrics["num_images"],
        "cpu_images_per_second": metrics.get("throughput", {}).get("batch_1"),
    }
    for name, values in metrics["per_class"].items():
        for key in ("precision", "recall", "f1"):
            out[f"{key}_{name}"] = values[key]
    for name, interval in metrics["true_class_probability"].items():
        out[f"true_prob_{name}"] = interval["mean"]
    if COVID in classes:
        index = classes.index(COVID)
        counts = metrics["confusion_matrix"]["counts"]  # rows: true class
        out["covid_correct"] = counts[index][index]
        out["covid_support"] = sum(counts[index])
        rest = metrics.get("positive_vs_rest") or {}
        out.update({f"covid_{k}": rest.get(k) for k in ("precision", "recall", "f1")})
    if external is not None:
        out["external_accuracy"] = external["accuracy"]
    return out
