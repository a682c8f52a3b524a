"""``model_card.md`` + ``model_card.json``: what a model is, what it was trained and judged on, and where not to trust it.

After Mitchell et al. 2019 (Model Cards for Model Reporting), filled from what
keras_cxr already records rather than typed by hand: the run directory
(``config.yaml``, ``split.csv``, ``split.json``, ``classes.json``,
``calibration.json``), an evaluation's ``metrics.json`` and, when given, an
audit's ``audit.json``. Known limitations are derived from the same records:
a label x source/population confound in the training data (computed from
``split.csv`` even without an audit: DeGrave et al. 2021), synthetic data, a
small test set, no external validation, uncalibrated probabilities, overlap
with training. ``evaluate`` writes a card next to its metrics, ``keras-cxr
card RUN`` next to the model, and ``export`` copies it beside the exported
file.
"""

import datetime
import json
from pathlib import Path

from keras_cxr.utils.outputs import write_text_atomic

CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"
# Fewer test images than this: intervals are too wide to compare models.
SMALL_TEST_SET = 200
# Accuracy gap between groups (in accuracy points) worth a limitation line.
GROUP_GAP = 0.10
INTENDED_USE = (
    "Research: reproducing and comparing chest X-ray classifiers and studying their failure modes. "
    "Not a medical device and not validated for diagnosis: a review of 62 COVID-19 imaging models found none fit "
    "for clinical use (Roberts et al. 2021). Every image is put in one of the model's classes; an X-ray of "
    "another finding, a lateral view or a CT slice gets a confident wrong answer unless the conformal set "
    "(predict --conformal) or a human flags it."
)


def build_card(run, metrics=None, audit=None):
    """The card as a dict. ``run``: a run directory or ``.keras``; ``metrics``/``audit``: dicts or folders/files."""
    from keras_cxr import __version__

    folder = Path(run) if Path(run).is_dir() else Path(run).parent
    metrics = _read(metrics, "metrics.json")
    audit = _read(audit, "audit.json")
    training = _training_data(folder)
    card = {
        "generated": {"by": f"keras_cxr {__version__}",
                      "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")},
        "model": _model(folder, metrics),
        "recipe": _recipe(folder),
        "training_data": training,
        "split_protocol": _split_protocol(folder, metrics),
        "evaluation": _evaluation(metrics),
        "calibration": _calibration(folder, metrics),
        "operating_point": _operating_point(metrics),
        "audit": _audit(audit),
        "intended_use": INTENDED_USE,
    }
    card["limitations"] = limitations(card)
    return card


def _read(value, name):
    """A dict as is; a folder's ``name`` or a JSON file read; None stays None."""
    if value is None or isinstance(value, dict):
        return value
    path = Path(value)
    path = path / name if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (expected {name} of a keras-cxr "
                                f"{'evaluate' if name == 'metrics.json' else 'audit'} output)")
    return json.loads(path.read_text())


def _json(path):
    return json.loads(path.read_text()) if path.is_file() else None


def _model(folder, metrics):
    from keras_cxr.models.loading import model_sha1, read_classes

    classes = read_classes(folder / "classes.json") if (folder / "classes.json").is_file() else None
    model_file = Path(metrics["model"]["path"]) if metrics else folder / "model.keras"
    entry = {"path": str(folder), "classes": classes,
             "sha1": model_sha1(model_file) if model_file.is_file() else None}
    if metrics:
        model = metrics["model"]
        entry.update(name=model["name"], params=model["params"], gmacs=model["gmacs"],
                     input_shape=model["input_shape"], preprocessing=model["preprocessing"])
    return entry


def _recipe(folder):
    """The training config's model and training sections (what someone needs to retrain it)."""
    import yaml

    path = folder / "config.yaml"
    if not path.is_file():
        return None
    config = yaml.safe_load(path.read_text())
    keep = ("optimizer", "learning_rate", "weight_decay", "schedule", "epochs", "batch_size", "label_smoothing",
            "class_weight", "seed")
    training = config.get("training", {})
    return {"paper": config.get("paper"), "model": config.get("model"),
            "augment": config.get("data", {}).get("augment"),
            "training": {k: training[k] for k in keep if k in training}}


def _training_data(folder):
    """Images per split, class mix per split, and the label x source/population tables of ``split.csv``."""
    from keras_cxr.audit.confounding import confounding_table, describe
    from keras_cxr.data.sources import load_any

    path = folder / "split.csv"
    if not path.is_file():
        return None
    manifest = load_any(path)
    labels = [r["label"] for r in manifest.records]
    tables = [confounding_table(labels, [r.get(c, "") for r in manifest.records], c)
              for c in ("source", "population") if c in manifest.columns]
    return {"manifest": str(path), "images": len(labels), "class_mix_by_split": manifest.counts(by_split=True),
            "sources": manifest.value_counts("source"), "populations": manifest.value_counts("population"),
            "confounding": [{"column": t["column"], "cramers_v": t["cramers_v"], "confounded": t["confounded"],
                             "summary": describe(t)} for t in tables]}


def _split_protocol(folder, metrics):
    saved = _json(folder / "split.json") or {}
    protocol = {"unit": "patient", **saved.get("split", {})}
    if metrics:
        protocol["evaluated"] = metrics["data"].get("selection")
    return protocol


def _evaluation(metrics):
    """Headline metrics with their intervals, per class and per group, as ``metrics.json`` has them."""
    if not metrics:
        return None
    boot = metrics["bootstrap_95ci"]
    return {
        "data": metrics["data"]["source"], "split": metrics["data"]["split"], "images": metrics["num_images"],
        "accuracy": {"value": metrics["accuracy"], "lower": boot["accuracy"].get("lower"),
                     "upper": boot["accuracy"].get("upper")},
        "macro_f1": {"value": metrics["average"]["macro"]["f1"], "lower": boot["macro_f1"].get("lower"),
                     "upper": boot["macro_f1"].get("upper")},
        "macro_auc": metrics["roc_auc"]["macro"],
        "per_class": {name: {k: v[k] for k in ("recall", "specificity", "precision", "f1", "support")}
                      for name, v in metrics["per_class"].items()},
        "group_by": metrics.get("group_by"),
        "by_group": {name: {"images": v["num_images"], "accuracy": v["accuracy"], "macro_f1": v["macro_f1"]}
                     for name, v in metrics.get("by_group", {}).items()},
        "training_overlap": metrics.get("training_overlap", {}).get("images_overlapping"),
        "sources": metrics["data"].get("sources"),
        "conformal": metrics.get("conformal"),
    }


def _calibration(folder, metrics):
    from keras_cxr.models.loading import read_calibration

    try:
        saved = read_calibration(folder)
    except ValueError as error:  # fitted for other weights: not this model's calibration
        return {"calibrated": False, "stale": str(error)}
    entry = {"calibrated": saved is not None}
    if saved:
        entry.update(temperature=saved["temperature"], fitted_on=saved["fitted_on"], val_ece=saved["ece"])
    if metrics:
        entry["ece"] = metrics["calibration"]["ece"]
        if "temperature_scaling" in metrics:
            entry["ece_uncalibrated"] = metrics["temperature_scaling"]["uncalibrated"]["ece"]
            entry["in_sample"] = metrics["temperature_scaling"]["in_sample"]
    return entry


def _operating_point(metrics):
    if not metrics or "operating_point" not in metrics:
        return None
    return {"positive_class": metrics.get("positive_class"), **metrics["operating_point"]}


def _audit(audit):
    if not audit:
        return None
    from keras_cxr.audit.report import findings

    return {"data": audit.get("data"), "images": audit.get("images"), "findings": findings(audit),
            "duplicates": audit["duplicates"]["summary"]}


def limitations(card):
    """Sentences a reader must see before using the numbers, derived from the card's own fields."""
    found = []
    training = card["training_data"] or {}
    for table in training.get("confounding", []):
        if table["confounded"]:
            found.append(f"Training data confound: {table['summary']}. The model can separate the classes by "
                         f"{table['column']} rather than by lung findings (DeGrave et al. 2021); check with "
                         "keras-cxr audit --model and per-group metrics.")
    if set(training.get("sources") or {}) == {"synthetic"}:
        found.append("Trained on synthetic X-rays only: the numbers say the pipeline works, nothing about real images.")
    found += _evaluation_limitations(card["evaluation"], training.get("sources"))
    calibration = card["calibration"]
    if calibration.get("stale"):
        found.append(f"Calibration ignored: {calibration['stale']}")
    elif not calibration["calibrated"]:
        ece = calibration.get("ece")
        found.append("Probabilities are not calibrated (no keras-cxr calibrate)"
                     + (f"; expected calibration error {ece:.3f}" if ece is not None else "") + ".")
    elif calibration.get("in_sample"):
        found.append("The calibration and conformal figures are in-sample: they were fitted on the evaluated images "
                     "(the val split); evaluate the test split to judge them.")
    if card["audit"]:  # less what the training data's own tables already said
        said = [t["summary"] for t in training.get("confounding", [])]
        found += [f"Audit: {line}" for line in card["audit"]["findings"] if not any(s in line for s in said)]
    return found


def _evaluation_limitations(evaluation, training_sources):
    if evaluation is None:
        return ["Not evaluated: no metrics.json was given (keras-cxr evaluate, then keras-cxr card --evaluation)."]
    found = []
    if evaluation["images"] < SMALL_TEST_SET:
        a = evaluation["accuracy"]
        width = (f" (accuracy interval {100 * a['lower']:.1f}-{100 * a['upper']:.1f}%)"
                 if a["lower"] is not None and a["upper"] is not None else "")
        found.append(f"Small evaluation set: {evaluation['images']} images{width}.")
    if evaluation["training_overlap"]:
        found.append(f"{evaluation['training_overlap']} evaluated image(s) overlap the training split: the metrics "
                     "overstate performance.")
    found += _external_validation(evaluation.get("sources"), training_sources)
    accuracies = {g: v["accuracy"]["value"] for g, v in evaluation["by_group"].items()}
    if len(accuracies) > 1 and max(accuracies.values()) - min(accuracies.values()) >= GROUP_GAP:
        worst = min(accuracies, key=accuracies.get)
        found.append(f"Accuracy differs by {evaluation['group_by']}: {worst} {100 * accuracies[worst]:.1f}% vs "
                     f"{100 * max(accuracies.values()):.1f}% for the best group.")
    return found


def _external_validation(evaluated, trained):
    """A limitation when every evaluated source also supplied training images (or when that cannot be told)."""
    advice = "keras-cxr crossval --by source gives leave-one-source-out figures"
    if not evaluated or not trained:
        return [f"Whether the evaluation is external cannot be told (no source column); {advice}."]
    unseen = sorted(set(evaluated) - set(trained))
    if unseen:
        return []
    return [f"No external validation: every evaluated source ({', '.join(sorted(evaluated))}) also supplied "
            f"training images; {advice}."]


def write_card(card, folder):
    """Write ``model_card.json`` and ``model_card.md`` into ``folder``; returns the markdown path."""
    from keras_cxr.evaluation.card_markdown import card_markdown

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / CARD_JSON, json.dumps(card, indent=2) + "\n")
    write_text_atomic(folder / CARD_MD, card_markdown(card))
    return folder / CARD_MD


def current_card_files(loaded):
    """``{file name: text}`` of the run's model card (``keras-cxr card``), or of a card built from the run alone.

    ``loaded``: a :class:`~keras_cxr.models.loading.LoadedModel`. A saved card written for other weights or
    another calibration is not used (a warning says so): exports and ``serve`` show what is true of this model.
    """
    from keras_cxr.evaluation.card_markdown import card_markdown

    folder = Path(loaded.path).parent
    if (folder / CARD_JSON).is_file() and (folder / CARD_MD).is_file():
        saved = json.loads((folder / CARD_JSON).read_text())
        if card_is_current(saved, loaded):
            return {name: (folder / name).read_text() for name in (CARD_JSON, CARD_MD)}
        from keras_cxr.utils.logging import get_logger

        get_logger().warning("%s describes other weights or another calibration than %s; using a card built "
                             "from the run alone (keras-cxr card RUN --evaluation EVAL to renew it)",
                             folder / CARD_MD, loaded.path)
    card = build_card(loaded.path)
    return {CARD_JSON: json.dumps(card, indent=2) + "\n", CARD_MD: card_markdown(card)}


def card_is_current(card, loaded):
    """The card was written for these weights and this calibration (not before a retrain or a calibrate)."""
    from keras_cxr.models.loading import model_sha1

    calibration = card.get("calibration") or {}
    return (card.get("model", {}).get("sha1") == model_sha1(loaded.path)
            and calibration.get("temperature") == loaded.temperature)
