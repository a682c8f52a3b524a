"""``evaluate``: a trained model on a manifest split -> predictions, metrics, figures, report."""

import csv
import json
from pathlib import Path


from keras_cxr.data.manifest import Manifest
from keras_cxr.evaluation import figures
from keras_cxr.evaluation.calibration import expected_calibration_error, reliability_bins
from keras_cxr.evaluation.model_card import build_card, write_card
from keras_cxr.uncertainty import calibrated_probabilities, conformal_sets, coverage_report, set_names
from keras_cxr.evaluation.inference import measure_throughput, score_manifest
from keras_cxr.evaluation.report import write_report
from keras_cxr.pages.image_browser import BROWSER_IMAGES
from keras_cxr.evaluation.summary import summarize


def read_class_map(path):
    """A JSON object or a two-column CSV ``data_label,model_class``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Class map not found: {path}")
    if path.suffix == ".json":
        mapping = json.loads(path.read_text())
        if not isinstance(mapping, dict):
            raise ValueError(f"{path}: a class map is a JSON object {{data label: model class}}")
        return {str(k): str(v) for k, v in mapping.items()}
    with open(path, newline="") as handle:
        rows = [r for r in csv.reader(handle) if r and not r[0].startswith("#")]
    if rows and rows[0][:2] in (["data_label", "model_class"], ["from", "to"]):
        rows = rows[1:]
    if any(len(r) < 2 for r in rows):
        raise ValueError(f"{path}: each class-map line needs two columns: data_label,model_class")
    return {r[0].strip(): r[1].strip() for r in rows}


def align_classes(manifest, model_classes, class_map=None):
    """Rename the data's labels to the model's classes; unknown labels are an error listing both sets.

    Without ``class_map``, finer data classes merge into a model's broader class through the
    label vocabulary (bacterial/viral pneumonia -> Pneumonia for a Zhong 2020 model), as in training.
    """
    from keras_cxr.data.labels import class_mapping

    if class_map:
        manifest = manifest.relabel(class_map)
    data_classes = sorted({r["label"] for r in manifest.records})
    mapping, unknown = class_mapping(data_classes, list(model_classes))
    if unknown:
        raise ValueError(
            f"The data's classes {data_classes} do not match the model's classes {list(model_classes)} "
            f"({unknown} unknown to the model). Map them with --class-map (data label -> model class)"
        )
    merged = {old: new for old, new in mapping.items() if old != new}
    if merged:
        from keras_cxr.utils.logging import get_logger

        get_logger().info("Scoring the data's classes as the model's: %s",
                          ", ".join(f"{old} -> {new}" for old, new in merged.items()))
        manifest = manifest.relabel(merged)
    return Manifest(manifest.records, list(model_classes), manifest.root, manifest.meta)


def _device_name():
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU ({len(gpus)}x)"
    import os
    import platform

    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def evaluate(model, data, out_dir, *, split="test", positive_class=None, class_map=None, tta=False,
             batch_size=32, bootstrap_resamples=1000, throughput=True, group_by=None, allow_overlap=False,
             skip_bad=False, target_sensitivity=None, prevalences=(), conformal=0.95, report_images=BROWSER_IMAGES):
    """Evaluate ``model`` (run dir, ``.keras`` file or a LoadedModel) on ``data``; writes ``out_dir``.

    ``split=None`` scores every image (an external test set). Data without a split column is scored on
    the run's own split when it is the run's training data, and refused otherwise. Images of the run's
    training split (same patient id or identical file) raise :class:`LeakageError` unless ``allow_overlap``.
    ``group_by``: a manifest column (population, source, ...) for per-group metrics.
    ``target_sensitivity`` (with ``positive_class``): the threshold reaching it is chosen on the
    data's ``val`` split and judged on the evaluated split, with PPV/NPV at ``prevalences``
    (:mod:`keras_cxr.evaluation.operating_point`).
    Unreadable images raise :class:`~keras_cxr.data.integrity.BadFilesError` naming them (and
    ``out_dir/bad_files.csv``) before anything is scored, since metrics over fewer images than the
    test set are not its metrics; ``skip_bad`` scores the rest and lists the left-out files with
    their reasons in ``metrics.json`` (``skipped_files``), ``report.md`` and ``bad_files.csv``.
    A run calibrated by ``keras-cxr calibrate`` is scored with its temperature (ECE before and after in
    ``temperature_scaling``) and, unless ``conformal`` is None, its prediction sets at that coverage
    (empirical coverage and set size overall, per class and per group in ``conformal``).
    Returns the metrics dict also written to ``metrics.json``; ``model_card.md``/``.json`` summarise it with
    the run's recipe, data and calibration (:mod:`keras_cxr.evaluation.model_card`). ``report.html`` shows
    ``report.md`` and the card in a browser, with up to ``report_images`` images (misclassified first) and
    their Grad-CAM overlays (:mod:`keras_cxr.pages.image_browser`; 0: no image browser, -1: every image).
    """
    from keras_cxr.evaluation.groups import group_metrics, group_values
    from keras_cxr.models.loading import LoadedModel, load_classifier

    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    classes = loaded.classes
    _check_arguments(loaded, positive_class, target_sensitivity, split)
    if isinstance(class_map, (str, Path)):
        class_map = read_class_map(class_map)
    manifest, selection, trained_on, overlap, skipped = _images_to_score(loaded, data, split, class_map,
                                                                         allow_overlap, skip_bad, out_dir)
    groups = group_values(manifest, group_by) if group_by else None
    calibration = _checked_calibration(loaded, tta)
    y_true, raw = score_manifest(loaded, manifest, batch_size, tta, bad_file_report=Path(out_dir) / "bad_files.csv")
    probs = calibrated_probabilities(raw, calibration)
    sets = _conformal_sets(calibration, probs, conformal)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_predictions(out_dir / "predictions.csv", manifest, classes, probs, sets)

    metrics = summarize(y_true, probs, classes, positive_class, bootstrap_resamples=bootstrap_resamples)
    if calibration:
        metrics.update(_calibration_metrics(calibration, (y_true, raw, sets), metrics, conformal, groups, split))
    if groups is not None:
        metrics["group_by"] = group_by
        metrics["by_group"] = group_metrics(y_true, probs.argmax(axis=1), groups, classes, positive_class,
                                            bootstrap_resamples=bootstrap_resamples)
    if target_sensitivity is not None:
        positive = classes.index(positive_class)
        metrics["operating_point"] = _operating_point(loaded, data, trained_on, class_map, positive,
                                                      (y_true == positive, probs[:, positive]), target_sensitivity,
                                                      prevalences, batch_size, tta, bootstrap_resamples)
    metrics["training_overlap"] = overlap
    metrics["skipped_files"] = skipped
    metrics["model"] = _model_entry(loaded)
    metrics["data"] = {"source": str(data), "split": split, "selection": selection, "tta": bool(tta),
                       "class_map": class_map or None, "sources": manifest.value_counts("source")}
    metrics["throughput"] = _throughput_entry(loaded.model, throughput)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    write_report(metrics, out_dir / "report.md", _figures(metrics, y_true, probs, classes, out_dir))
    write_card(build_card(loaded.path, metrics), out_dir)
    _write_page(out_dir, metrics, loaded, manifest, (y_true, probs, groups, sets), report_images)
    return metrics


def _check_arguments(loaded, positive_class, target_sensitivity, split):
    """Options that cannot work with this model, refused before any image is read."""
    if positive_class is not None and positive_class not in loaded.classes:
        raise ValueError(f"--positive-class {positive_class!r} is not one of the model's classes {loaded.classes}")
    if target_sensitivity is not None and (positive_class is None or split in (None, "val")):
        raise ValueError("--target-sensitivity needs --positive-class and a split other than val: the threshold "
                         "is chosen on the val split and judged on the evaluated one")
    height, width, _ = loaded.input_shape
    if height != width:
        raise ValueError(f"Evaluation expects square inputs, the model takes {height}x{width}")


def _images_to_score(loaded, data, split, class_map, allow_overlap, skip_bad, out_dir):
    """(manifest to score, how it was selected, the run's split, overlap with training, unreadable files left out).

    The split's rows in the model's class names, checked against the run's training images
    (:class:`LeakageError` unless ``allow_overlap``) and for unreadable files (see :func:`_readable`).
    """
    from keras_cxr.evaluation.selection import check_training_overlap, run_split, select_images

    trained_on = run_split(loaded.path)
    manifest, selection = select_images(data, split, trained_on)
    manifest = align_classes(manifest, loaded.classes, class_map)
    if not manifest.records:
        raise ValueError(f"No images to evaluate in split {split!r}")
    overlap = check_training_overlap(manifest, trained_on, allow_overlap, loaded.path)
    manifest, skipped = _readable(manifest, skip_bad, Path(out_dir) / "bad_files.csv")
    return manifest, selection, trained_on, overlap, skipped


def _model_entry(loaded):
    """``metrics.json``'s ``model``: name, path, input shape, size and cost, preprocessing."""
    from keras_cxr.models import profile

    stats = profile(loaded.model)
    return {"name": loaded.name, "path": str(loaded.path), "input_shape": list(loaded.input_shape),
            "params": stats["params"], "trainable_params": stats["trainable_params"], "gmacs": stats["gmacs"],
            "preprocessing": loaded.converter.get_config()}


def _throughput_entry(model, measure=True):
    """Images/second at batch 1 and 32 on this machine (NaN when not measured)."""
    speed = measure_throughput(model) if measure else {"batch_1": float("nan"), "batch_32": float("nan")}
    return {"device": _device_name(), **speed, "unit": "images/second"}


def _write_page(out_dir, metrics, loaded, manifest, scored, report_images):
    """``report.html``: the report, its headline numbers, the model card and the image browser."""
    from keras_cxr.evaluation.model_card import CARD_MD
    from keras_cxr.pages.image_browser import browser_items
    from keras_cxr.evaluation.report import caveats, headline
    from keras_cxr.pages.report_page import write_report_page

    y_true, probs, groups, sets = scored
    browser = None
    if report_images:
        paths = [str(manifest.resolve(r)) for r in manifest.records]
        browser = browser_items(loaded, paths, y_true, probs, groups=groups, group_by=metrics.get("group_by"),
                                sets=sets, limit=report_images)
    return write_report_page(out_dir / "report.md", f"Evaluation of {loaded.name}",
                             headline=headline(metrics), notes=caveats(metrics), browser=browser,
                             appendix=[("Model card", out_dir / CARD_MD)])


def _operating_point(loaded, data, trained_on, class_map, positive_index, test, target, prevalences, batch_size,
                     tta, resamples):
    """The validation split's threshold for ``target`` sensitivity, judged on ``test`` (is positive, scores)."""
    from keras_cxr.evaluation.operating_point import operating_point
    from keras_cxr.evaluation.selection import select_images

    manifest, _ = select_images(data, "val", trained_on)
    manifest = align_classes(manifest, loaded.classes, class_map)
    if not manifest.records:
        raise ValueError(f"--target-sensitivity: {data} has no val images to choose the threshold on")
    labels, probs = score_manifest(loaded, manifest, batch_size, tta)
    probs = calibrated_probabilities(probs, loaded.calibration)  # as the evaluated split's scores
    result = operating_point(labels == positive_index, probs[:, positive_index], *test, target,
                             prevalences=prevalences, n_resamples=max(resamples, 1))
    result["validation_images"] = len(manifest.records)
    return result


def _readable(manifest, skip_bad, report_path):
    """(the manifest's readable rows, ``[{"path", "reason"}]`` of the unreadable ones left out).

    Without ``skip_bad`` an unreadable file raises :class:`BadFilesError` (listed in ``report_path``).
    """
    from keras_cxr.data.pipeline import check_files

    kept, infos = check_files(manifest, skip_bad=skip_bad, report_path=report_path)
    paths = dict.fromkeys(str(manifest.resolve(r)) for r in manifest.records)
    skipped = [{"path": p, "reason": infos[p].reason} for p in paths if not infos[p].ok]
    if not kept.records:
        raise ValueError(f"None of the {len(paths)} image(s) to evaluate can be read; see {report_path}")
    return kept, skipped


def _checked_calibration(loaded, tta):
    """The run's calibration (None if uncalibrated), refused when fitted with the other ``tta`` setting."""
    calibration = loaded.calibration
    fitted_tta = bool(((calibration or {}).get("fitted_on") or {}).get("tta", False))
    if calibration and fitted_tta != bool(tta):
        raise ValueError(f"The run's calibration was fitted {'with' if fitted_tta else 'without'} --tta: flip-averaged "
                         f"probabilities are calibrated differently; evaluate {'with' if fitted_tta else 'without'} "
                         f"--tta, or run keras-cxr calibrate {'' if fitted_tta else '--tta '}again")
    return calibration


def _calibration_metrics(calibration, scored, metrics, coverage, groups, split):
    """``temperature_scaling`` and ``conformal`` entries; both say when they were fitted on these very images."""
    y_true, raw, sets = scored
    in_sample = split == calibration["fitted_on"]["split"]
    entries = {"temperature_scaling": {**_temperature_summary(calibration, y_true, raw, metrics),
                                       "in_sample": in_sample}}
    if sets is not None:
        entries["conformal"] = {**coverage_report(y_true, sets, coverage, calibration["conformal"]["class_conditional"],
                                                  metrics["classes"], groups), "in_sample": in_sample}
    return entries


def _conformal_sets(calibration, probs, coverage):
    """Boolean (n, k) prediction sets at ``coverage`` when the run has conformal scores, else None."""
    saved = conformal_sets(calibration)
    return saved.predict(probs, coverage) if saved is not None and coverage is not None else None


def _temperature_summary(calibration, y_true, raw, metrics):
    """The temperature, where it was fitted, and the ECE of these images without and with it."""
    return {"temperature": calibration["temperature"], "fitted_on": calibration["fitted_on"],
            "uncalibrated": {"ece": expected_calibration_error(y_true, raw), "bins": reliability_bins(y_true, raw)},
            "calibrated": {"ece": metrics["calibration"]["ece"]}}


def _write_predictions(path, manifest, classes, probs, sets=None):
    """Every class probability per image (and its conformal set), with the manifest's own columns kept."""
    extra = [c for c in manifest.columns if c not in ("path", "label")]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true_label", "predicted_label"] + [f"prob_{c}" for c in classes]
                        + (["conformal_set"] if sets is not None else []) + extra)
        for i, (record, row) in enumerate(zip(manifest.records, probs)):
            chosen = [";".join(set_names(sets[i], row, classes))] if sets is not None else []
            writer.writerow([str(manifest.resolve(record)), record["label"], classes[int(row.argmax())]]
                            + [f"{p:.6f}" for p in row] + chosen + [record.get(c, "") for c in extra])


def _figures(metrics, y_true, probs, classes, out_dir):
    paths = {
        "Confusion matrix": figures.plot_confusion_matrix(metrics["confusion_matrix"], out_dir / "confusion_matrix.png"),
        "ROC curves": figures.plot_roc_curves(y_true, probs, classes, metrics["roc_auc"], out_dir / "roc_curves.png"),
        "Reliability diagram": _reliability_figure(metrics, out_dir / "reliability_diagram.png"),
    }
    if metrics.get("by_group"):
        column = metrics["group_by"]
        paths[f"By {column}"] = figures.plot_group_metrics(metrics["by_group"], column, out_dir / f"by_{column}.png")
    return paths


def _reliability_figure(metrics, path):
    """The reliability diagram; for a calibrated run, before and after its temperature side by side."""
    scaling = metrics.get("temperature_scaling")
    if scaling is None:
        return figures.plot_reliability(metrics["calibration"]["bins"], metrics["calibration"]["ece"], path)
    return figures.plot_reliability_before_after(scaling["uncalibrated"], metrics["calibration"],
                                                 scaling["temperature"], path)
