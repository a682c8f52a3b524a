"""The cross-validation table: one row per held-out group, and the mean and spread over folds.

Every number of a row comes from that fold's ``evaluation/metrics.json``, so the
table can be checked against it. Macro-F1 averages the classes present in the
held-out group (a source without COVID-19 images says nothing about COVID-19 F1,
and counting it as 0 would sink every such fold); with every class present it is
``metrics.json``'s ``average.macro.f1``. Macro AUC is ``metrics.json``'s (the
classes with an AUC defined; none when the group has one class).
"""

import csv
import json
import math
from pathlib import Path

from keras_cxr.utils.outputs import atomic_path, write_text_atomic

CSV_COLUMNS = ("fold", "held_out", "images", "scored", "class_mix", "train_images", "val_images", "accuracy",
               "accuracy_ci_lower", "accuracy_ci_upper", "macro_f1", "macro_auc", "notes")
AVERAGED = ("accuracy", "macro_f1", "macro_auc")


def fold_row(fold, metrics, fold_dir):
    """The table row of one fold from its plan and its ``metrics.json`` dict (None: nothing could be scored)."""
    split = fold.manifest.counts(by_split=True)
    if metrics is None:
        metrics = {"num_images": 0, "accuracy": None, "per_class": {}, "bootstrap_95ci": {"accuracy": {}},
                   "roc_auc": {"macro": None}}
    present = [c for c, v in metrics["per_class"].items() if v["support"]]
    ci = metrics["bootstrap_95ci"]["accuracy"]
    return {
        "fold": fold.name,
        "held_out": fold.held_out,
        "images": sum(fold.held_out_counts.values()),
        "scored": metrics["num_images"],
        "class_mix": dict(fold.held_out_counts),
        "train_images": sum(split.get("train", {}).values()),
        "val_images": sum(split.get("val", {}).values()),
        "accuracy": metrics["accuracy"],
        "accuracy_ci": [ci.get("lower"), ci.get("upper")],
        "macro_f1": sum(metrics["per_class"][c]["f1"] for c in present) / len(present) if present else None,
        "macro_f1_classes": present,
        "macro_auc": metrics["roc_auc"]["macro"],
        "trained_classes": list(fold.manifest.classes),
        "notes": list(fold.notes),
        "run": str(Path(fold_dir) / "run"),
        "evaluation": str(Path(fold_dir) / "evaluation"),
    }


def summarize_folds(rows):
    """Mean and sample standard deviation over folds of each metric (folds where it is defined), and
    the accuracy over every scored held-out image pooled."""
    summary = {}
    for key in AVERAGED:
        values = [r[key] for r in rows if r[key] is not None]
        mean = sum(values) / len(values) if values else None
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
        summary[key] = {"mean": mean, "std": std, "folds": len(values)}
    scored = sum(r["scored"] for r in rows)
    correct = sum(r["accuracy"] * r["scored"] for r in rows if r["scored"])
    summary["pooled_accuracy"] = correct / scored if scored else None
    summary["images"] = sum(r["images"] for r in rows)
    summary["scored"] = scored
    return summary


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _spread(entry, percent=True):
    if entry["mean"] is None:
        return "n/a"
    scale, unit, digits = (100, "%", 1) if percent else (1, "", 3)
    std = "" if entry["std"] is None else f" ± {scale * entry['std']:.{digits}f}"
    return f"{scale * entry['mean']:.{digits}f}{std}{unit}"


def _mix(counts):
    return ", ".join(f"{c} {n}" for c, n in counts.items())


def markdown(result):
    """``crossval.md``: what was held out, the table, and how to read it."""
    title = (f"Leave-one-{result['by']}-out" if result["by"] else f"{result['k']}-fold patient-grouped")
    lines = [f"# {title} cross-validation", "",
             f"Data: `{result['data']}`. Each row is a model trained without the held-out group (train/validation "
             f"split by patient, {result['val_fraction']:.0%} validation, seed {result['seed']}) and scored on all "
             "of that group's images.", "",
             "| held out | images | class mix | train / val | accuracy (95% CI) | macro-F1 | macro AUC | notes |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["folds"]:
        lower, upper = r["accuracy_ci"]
        ci = f" ({100 * lower:.1f}-{100 * upper:.1f})" if lower is not None and upper is not None else ""
        auc = "n/a" if r["macro_auc"] is None else f"{r['macro_auc']:.3f}"
        scored = "" if r["scored"] == r["images"] else f" ({r['scored']} scored)"
        lines.append(f"| {r['held_out']} | {r['images']}{scored} | {_mix(r['class_mix'])} | {r['train_images']} / "
                     f"{r['val_images']} | {_percent(r['accuracy'])}{ci} | {_percent(r['macro_f1'])} | {auc} | "
                     f"{'; '.join(r['notes'])} |")
    s = result["summary"]
    lines.append(f"| mean ± std ({len(result['folds'])} folds) | {s['images']} | | | {_spread(s['accuracy'])} | "
                 f"{_spread(s['macro_f1'])} | {_spread(s['macro_auc'], percent=False)} | |")
    lines += ["", f"Accuracy over all {s['scored']} scored held-out images pooled: {_percent(s['pooled_accuracy'])}. "
              "Standard deviations are over folds (sample, n-1). Macro-F1 averages the classes present in the "
              "held-out group (a class absent there but still predicted lowers precision, so accuracy, not "
              "macro-F1, is the figure to compare across folds); macro AUC the classes whose AUC is defined "
              "there. Per-fold reports: "
              "`fold_<name>/evaluation/report.md`."]
    return "\n".join(lines) + "\n"


def write_tables(result, out_dir):
    """``crossval.json`` (everything), ``crossval.csv`` (a row per fold, then mean and std) and ``crossval.md``."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "crossval.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(out_dir / "crossval.md", markdown(result))
    rows = [{**r, "class_mix": "; ".join(f"{c}: {n}" for c, n in r["class_mix"].items()),
             "accuracy_ci_lower": r["accuracy_ci"][0], "accuracy_ci_upper": r["accuracy_ci"][1],
             "notes": "; ".join(r["notes"])} for r in result["folds"]]
    for stat in ("mean", "std"):
        rows.append({"fold": stat, **{k: result["summary"][k][stat] for k in AVERAGED}})
    with atomic_path(out_dir / "crossval.csv") as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
