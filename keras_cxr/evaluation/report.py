"""``report.md``: an evaluation as tables and figures, readable on its own."""

from pathlib import Path


def _pct(value):
    return "n/a" if value is None else f"{100 * value:.2f}"


def _num(value, digits=4):
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(v):
    if v is None:
        return "n/a"
    return f"{_pct(v['value'])} ({_pct(v['lower'])} - {_pct(v['upper'])})"


def _group_lines(m):
    if not m.get("by_group"):
        return []
    column = m["group_by"]
    positive = m.get("positive_class")
    lines = ["", f"## By {column}", "",
             "A model can score well overall by telling groups apart (children from adults, one hospital from "
             "another) when the class differs between them; compare the groups before trusting the total.", "",
             f"| {column} | images | classes | accuracy (95% CI) | macro F1 (95% CI) |"
             + (f" {positive} sensitivity (95% CI) |" if positive else ""),
             "|---|---:|---|---:|---:|" + ("---:|" if positive else "")]
    for name, v in m["by_group"].items():
        counts = ", ".join(f"{c} {n}" for c, n in v["class_counts"].items())
        row = f"| {name} | {v['num_images']} | {counts} | {_interval(v['accuracy'])} | {_interval(v['macro_f1'])} |"
        if positive:
            row += f" {_interval(v.get('positive_sensitivity'))} |"
        lines.append(row)
    return lines


def _leakage_lines(m):
    leak = m.get("training_overlap")
    if not leak:
        return []
    if not leak.get("checked"):
        return ["", "## Overlap with training", "", f"Not checked: {leak.get('reason')}."]
    lines = ["", "## Overlap with training", "",
             f"{leak['images_overlapping']} of {leak['images']} evaluated images share a patient id "
             f"({len(leak['shared_patients'])}) or identical file content ({len(leak['identical_files'])}) with the "
             f"{leak['training_images']} images of the run's training split."]
    if leak["images_overlapping"]:
        lines.append("**These numbers include images the model was trained on; they overstate performance.**")
    return lines


def _skipped_lines(m):
    skipped = m.get("skipped_files")
    if not skipped:
        return []
    return (["", "## Unreadable images left out", "",
             f"**{len(skipped)} image(s) could not be read and are not in these numbers** (`--skip-bad`; "
             "also in `bad_files.csv`):", ""]
            + [f"- `{s['path']}`: {s['reason']}" for s in skipped])


def _calibration_lines(m):
    scaling = m.get("temperature_scaling")
    if not scaling:
        return ["", "## Calibration", "",
                "Probabilities are the network's own (no `keras-cxr calibrate` for this run); "
                f"expected calibration error {_num(m['calibration']['ece'])}."]
    fitted = scaling["fitted_on"]
    return ["", "## Calibration (temperature scaling)", "",
            f"Probabilities divided (as logits) by temperature {scaling['temperature']:.3f}, fitted on "
            f"{fitted['images']} images of the {fitted['split']} split of `{fitted['data']}` (Guo et al. 2017). "
            f"Expected calibration error on these images: {_num(scaling['uncalibrated']['ece'])} uncalibrated, "
            f"{_num(scaling['calibrated']['ece'])} calibrated. Decisions do not change."
            + (" **Fitted on these very images: in-sample, not a test of the calibration.**"
               if scaling.get("in_sample") else "")]


def _conformal_lines(m):
    c = m.get("conformal")
    if not c:
        return []
    kind = "class-conditional (per true class)" if c["class_conditional"] else "marginal"
    lines = ["", f"## Conformal prediction sets (target coverage {_pct(c['target_coverage'])}%, {kind})", "",
             "Each image gets every class the model cannot rule out at the target coverage (split conformal, "
             "calibrated on the val split); a set of two or more classes flags an ambiguous image."
             + (" **Calibrated on these very images: the coverage below is in-sample.**" if c.get("in_sample") else ""),
             "",
             "| images | coverage | mean set size | single-class sets | empty sets |", "|---|---:|---:|---:|---:|",
             _coverage_row("all", c)]
    lines += [_coverage_row(f"true {name}", v) for name, v in c["by_class"].items()]
    lines += [_coverage_row(f"{m.get('group_by')}={name}", v) for name, v in c.get("by_group", {}).items()]
    return lines


def _coverage_row(name, v):
    return (f"| {name} ({v['images']}) | {_pct(v['coverage'])}% | {_num(v['mean_set_size'], 2)} | "
            f"{_pct(v['singletons'])}% | {_pct(v['empty'])}% |")


def _throughput_line(speed):
    if speed["batch_1"] != speed["batch_1"]:  # NaN: not measured
        return "- throughput not measured (--no-throughput)"
    return (f"- throughput on {speed['device']}: {speed['batch_1']:.1f} images/s at batch 1, "
            f"{speed['batch_32']:.1f} at batch 32")


def write_report(metrics, path, figures):
    """``report.md``: the header, every table, then ``figures`` ({title: PNG beside the report})."""
    m = metrics
    lines = [f"# Evaluation of `{m['model']['name']}`", ""]
    lines += _header_lines(m)
    lines += _summary_lines(m)
    lines += _per_class_lines(m)
    lines += _positive_lines(m)
    lines += _operating_point_lines(m)
    lines += _calibration_lines(m)
    lines += _conformal_lines(m)
    lines += _group_lines(m)
    lines += _leakage_lines(m)
    lines += _skipped_lines(m)
    lines += _true_class_probability_lines(m)
    lines += _confusion_lines(m["confusion_matrix"])
    lines += _figure_lines(figures)
    Path(path).write_text("\n".join(lines))
    return Path(path)


def _header_lines(m):
    model, data = m["model"], m["data"]
    shape = "x".join(str(d) for d in model["input_shape"])
    return [
        f"- model: `{model['path']}` ({model['params']:,} parameters, {model['gmacs']:.3f} GMACs per image at {shape})",
        f"- data: `{data['source']}`, {data.get('selection', 'split ' + str(data['split']))}, {m['num_images']} images"
        + (", test-time augmentation (horizontal flip)" if data.get("tta") else ""),
        _throughput_line(m["throughput"]),
        *([f"- **{len(m['skipped_files'])} unreadable image(s) left out** (listed below)"]
          if m.get("skipped_files") else []),
        ""]


def _summary_lines(m):
    boot = m["bootstrap_95ci"]
    lines = ["## Summary", "", "| metric | value | 95% CI |", "|---|---:|---:|",
             f"| accuracy | {_pct(m['accuracy'])}% | {_pct(boot['accuracy']['lower'])} - "
             f"{_pct(boot['accuracy']['upper'])} |",
             f"| macro F1 | {_pct(m['average']['macro']['f1'])}% | {_pct(boot['macro_f1']['lower'])} - "
             f"{_pct(boot['macro_f1']['upper'])} |"]
    if "positive_vs_rest" in m:
        s = boot["positive_sensitivity"]
        lines.append(f"| {m['positive_class']} sensitivity | {_pct(m['positive_vs_rest']['recall'])}% | "
                     f"{_pct(s['lower'])} - {_pct(s['upper'])} |")
    lines.append(f"| macro ROC-AUC | {_num(m['roc_auc']['macro'])} | |")
    lines.append(f"| Keras micro precision / recall (threshold 0.5) | {_pct(m['keras_micro']['precision'])}% / "
                 f"{_pct(m['keras_micro']['recall'])}% | |")
    lines.append(f"| expected calibration error | {_num(m['calibration']['ece'])} | |")
    return lines + ["", "Bootstrap intervals: percentile, "
                    f"{boot['accuracy'].get('resamples', 0)} resamples of the test images.", ""]


def _per_class_lines(m):
    lines = ["## Per class", "", "| class | precision | recall (sensitivity) | specificity | F1 | ROC-AUC | support |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, v in m["per_class"].items():
        lines.append(f"| {name} | {_pct(v['precision'])} | {_pct(v['recall'])} | {_pct(v['specificity'])} | "
                     f"{_pct(v['f1'])} | {_num(m['roc_auc']['per_class'][name])} | {v['support']} |")
    for average in ("macro", "weighted"):
        a = m["average"][average]
        lines.append(f"| *{average} average* | {_pct(a['precision'])} | {_pct(a['recall'])} | | {_pct(a['f1'])} | | |")
    return lines


def _positive_lines(m):
    if "positive_vs_rest" not in m:
        return []
    p = m["positive_vs_rest"]
    return ["", f"## {m['positive_class']} versus the rest", "",
            "| accuracy | precision | recall | F1 |", "|---:|---:|---:|---:|",
            f"| {_pct(p['accuracy'])} | {_pct(p['precision'])} | {_pct(p['recall'])} | {_pct(p['f1'])} |"]


def _operating_point_lines(m):
    if "operating_point" not in m:
        return []
    from keras_cxr.evaluation.operating_point import describe_operating_point

    return ["", "## Operating point (threshold chosen on the val split)", "",
            describe_operating_point(m["operating_point"], m["positive_class"]).replace("\n  ", "\n- ")]


def _true_class_probability_lines(m):
    lines = ["", "## Mean predicted probability of the true class", "",
             "| class | mean | 95% CI lower | 95% CI upper | n |", "|---|---:|---:|---:|---:|"]
    for name, v in m["true_class_probability"].items():
        lines.append(f"| {name} | {_num(v['mean'])} | {_num(v['lower'])} | {_num(v['upper'])} | {v['n']} |")
    return lines


def _confusion_lines(cm):
    lines = ["", "## Confusion matrix (rows: true, columns: predicted)", "",
             "| true \\ predicted | " + " | ".join(cm["labels"]) + " |",
             "|---|" + "---:|" * len(cm["labels"])]
    return lines + [f"| {name} | " + " | ".join(str(v) for v in row) + " |"
                    for name, row in zip(cm["labels"], cm["counts"])]


def _figure_lines(figures):
    lines = ["", "## Figures", ""]
    for title, file in figures.items():
        lines += [f"### {title}", "", f"![{title}]({Path(file).name})", ""]
    return lines + ["Predictions per image: `predictions.csv`. All numbers: `metrics.json`.", ""]


def headline(metrics):
    """``report.html``'s tiles: images, accuracy, macro F1, positive-class sensitivity, macro AUC, ECE."""
    from keras_cxr.pages.report_page import interval_tile

    boot = metrics["bootstrap_95ci"]
    tiles = [{"label": "images", "value": f"{metrics['num_images']:,}",
              "detail": str(metrics["data"].get("selection") or "")},
             interval_tile("accuracy", metrics["accuracy"], boot["accuracy"]),
             interval_tile("macro F1", metrics["average"]["macro"]["f1"], boot["macro_f1"])]
    if "positive_vs_rest" in metrics:
        tiles.append(interval_tile(f"{metrics['positive_class']} sensitivity", metrics["positive_vs_rest"]["recall"],
                                   boot.get("positive_sensitivity")))
    tiles.append(interval_tile("macro ROC-AUC", metrics["roc_auc"]["macro"], percent=False))
    scaling = metrics.get("temperature_scaling")
    tiles.append(interval_tile("calibration error (ECE)", metrics["calibration"]["ece"], percent=False)
                 | {"detail": f"temperature {scaling['temperature']:.2f}" if scaling else "uncalibrated"})
    return tiles


def caveats(metrics):
    """What a reader must know before trusting the evaluation's numbers, as sentences (empty: nothing)."""
    notes = []
    overlap = metrics.get("training_overlap") or {}
    if overlap.get("images_overlapping"):
        notes.append(f"{overlap['images_overlapping']} of {overlap['images']} evaluated images share a patient or a "
                     "file with the run's training split: these numbers overstate performance.")
    if metrics.get("skipped_files"):
        notes.append(f"{len(metrics['skipped_files'])} unreadable image(s) were left out (--skip-bad) and are not in "
                     "these numbers.")
    if (metrics.get("temperature_scaling") or {}).get("in_sample"):
        notes.append("The calibration was fitted on these very images: its calibration error and conformal coverage "
                     "here are in-sample.")
    return notes
