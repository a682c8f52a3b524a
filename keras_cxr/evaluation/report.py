"""``report.md``: an evaluation as tables and figures, readable on its own."""

from pathlib import Path


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.2f}"


def _num(value, digits=4):
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_report(metrics, path, figures):
    m = metrics
    lines = [f"# Evaluation of `{m['model']['name']}`", ""]
    lines += [
        f"- model: `{m['model']['path']}` ({m['model']['params']:,} parameters, {m['model']['gmacs']:.3f} GMACs "
        f"per image at {m['model']['input_shape'][0]}x{m['model']['input_shape'][1]}x{m['model']['input_shape'][2]})",
        f"- data: `{m['data']['source']}`, split `{m['data']['split']}`, {m['num_images']} images"
        + (", test-time augmentation (horizontal flip)" if m["data"].get("tta") else ""),
        f"- throughput on {m['throughput']['device']}: {m['throughput']['batch_1']:.1f} images/s at batch 1, "
        f"{m['throughput']['batch_32']:.1f} at batch 32",
        "",
        "## Summary",
        "",
        "| metric | value | 95% CI |",
        "|---|---:|---:|",
    ]
    boot = m["bootstrap_95ci"]
    lines.append(f"| accuracy | {_pct(m['accuracy'])}% | {_pct(boot['accuracy']['lower'])} - "
                 f"{_pct(boot['accuracy']['upper'])} |")
    lines.append(f"| macro F1 | {_pct(m['average']['macro']['f1'])}% | {_pct(boot['macro_f1']['lower'])} - "
                 f"{_pct(boot['macro_f1']['upper'])} |")
    if "positive_vs_rest" in m:
        s = boot["positive_sensitivity"]
        lines.append(f"| {m['positive_class']} sensitivity | {_pct(m['positive_vs_rest']['recall'])}% | "
                     f"{_pct(s['lower'])} - {_pct(s['upper'])} |")
    lines.append(f"| macro ROC-AUC | {_num(m['roc_auc']['macro'])} | |")
    lines.append(f"| Keras micro precision / recall (threshold 0.5) | {_pct(m['keras_micro']['precision'])}% / "
                 f"{_pct(m['keras_micro']['recall'])}% | |")
    lines.append(f"| expected calibration error | {_num(m['calibration']['ece'])} | |")
    lines += ["", "Bootstrap intervals: percentile, "
              f"{boot['accuracy'].get('resamples', 0)} resamples of the test images.", ""]

    lines += ["## Per class", "", "| class | precision | recall (sensitivity) | specificity | F1 | ROC-AUC | support |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, v in m["per_class"].items():
        lines.append(f"| {name} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['specificity'])} | "
                     f"{_pct(v['f1'])} | {_num(m['roc_auc']['per_class'][name])} | {v['support']} |")
    for average in ("macro", "weighted"):
        a = m["average"][average]
        lines.append(f"| *{average} average* | {_pct(a['precision'])} | {_pct(a['recall'])} | | {_pct(a['f1'])} | | |")
    if "positive_vs_rest" in m:
        p = m["positive_vs_rest"]
        lines += ["", f"## {m['positive_class']} versus the rest", "",
                  "| accuracy | precision | recall | F1 |", "|---:|---:|---:|---:|",
                  f"| {_pct(p['accuracy'])} | {_pct(p['precision'])} | {_pct(p['recall'])} | {_pct(p['f1'])} |"]
    lines += ["", "## Mean predicted probability of the true class", "",
              "| class | mean | 95% CI lower | 95% CI upper | n |", "|---|---:|---:|---:|---:|"]
    for name, v in m["true_class_probability"].items():
        lines.append(f"| {name} | {_num(v['mean'])} | {_num(v['lower'])} | {_num(v['upper'])} | {v['n']} |")
    cm = m["confusion_matrix"]
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", "",
              "| true \\ predicted | " + " | ".join(cm["labels"]) + " |",
              "|---|" + "---:|" * len(cm["labels"])]
    for name, row in zip(cm["labels"], cm["counts"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Figures", ""]
    for title, file in figures.items():
        lines += [f"### {title}", "", f"![{title}]({Path(file).name})", ""]
    lines += ["Predictions per image: `predictions.csv`. All numbers: `metrics.json`.", ""]
    Path(path).write_text("\n".join(lines))
    return Path(path)
