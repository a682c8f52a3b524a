"""``export``: a trained classifier -> SavedModel or TFLite, with labels and a parity report."""

import json
import tempfile
from pathlib import Path

import numpy as np

from keras_cxr.export import parity as parity_module
from keras_cxr.evaluation.model_card import current_card_files
from keras_cxr.export.edge_graph import build_edge_model
from keras_cxr.utils.outputs import replacing_dir, write_bytes_atomic, write_text_atomic

FORMATS = ("saved_model", "tflite")
# Exports that must reproduce the Keras model's top-1 decision exactly.
STRICT = ("none", "float16")


class ExportError(RuntimeError):
    """An export that failed its parity check (nothing is written to the destination)."""


# Calibration: up to this many images of the user's data (spread over the manifest), or this many synthetic ones.
CALIBRATION_IMAGES = 100
SYNTHETIC_CALIBRATION_IMAGES = 32


def calibration_images(source, converter, limit=CALIBRATION_IMAGES, seed=0):
    """uint8 grayscale model views (N, S, S, 1) of a manifest/folder, or of synthetic X-rays if None.

    Exactly what the edge graph receives: the file -> uint8 conversion the
    model was trained with (``converter``), no scaling (that is in the graph).
    """
    limit = limit if source is not None else min(limit, SYNTHETIC_CALIBRATION_IMAGES)
    return _labelled_images(source, converter, limit, seed)[0]


def _spread(records, limit):
    """At most ``limit`` records, evenly spread (a manifest sorted by class gives every class)."""
    return records[::max(len(records) // limit, 1)][:limit]


def _labelled_images(source, converter, limit, seed, exclude_calibration=False):
    """``(uint8 images, label names, overlap)`` of synthetic X-rays (``seed``) or of a manifest/folder.

    ``exclude_calibration``: records other than :func:`calibration_images`'
    ones; a manifest too small to have others gives those (``overlap`` True).
    """
    from keras_cxr.data.synthetic import CLASSES, synthetic_cxr

    if source is None:
        labels = [CLASSES[i % len(CLASSES)] for i in range(limit)]
        views = [converter.convert_array(synthetic_cxr(label, size=max(converter.load_size, 64), seed=[seed, i])[0])
                 for i, label in enumerate(labels)]
        return np.stack(views), labels, False
    from keras_cxr.data.sources import load_any

    manifest = load_any(source)
    chosen = calibration = _spread(manifest.records, CALIBRATION_IMAGES)
    if exclude_calibration:
        taken = {id(record) for record in calibration}
        chosen = [record for record in manifest.records if id(record) not in taken] or calibration
    images, labels = _read_records(manifest, _spread(chosen, limit), converter)
    if not images:
        raise ValueError(f"No readable calibration images in {source}")
    return np.stack(images), labels, chosen is calibration and exclude_calibration


def _read_records(manifest, records, converter):
    """uint8 views and labels of the readable ``records`` (unreadable files are skipped)."""
    from keras_cxr.data.decode import ImageDecodeError

    images, labels = [], []
    for record in records:
        try:
            images.append(converter(manifest.resolve(record)))
        except ImageDecodeError:
            continue
        labels.append(record["label"])
    return images, labels


def _label_indices(labels, classes):
    """Index in ``classes`` of each label name (a finer label counts as its parent class), None if absent."""
    from keras_cxr.data.labels import class_mapping

    mapping, _ = class_mapping(sorted(set(labels)), classes)
    return [classes.index(mapping[label]) if label in mapping else None for label in labels]


def export_model(model, out, format="tflite", quantize="none", calibration_data=None, parity_images=100):
    """Export ``model`` (run dir, .keras or LoadedModel) to ``out``; returns the export report.

    Writes ``labels.json`` beside the model (inside the SavedModel folder),
    ``export_report.json`` (parity figures) and the run's model card
    (``keras-cxr card``; one built from the run alone if it has none). float32/float16 exports whose top-1
    decisions differ from Keras on any parity image fail with ExportError. The
    export is built under a temporary name and renamed into place after its
    parity check: the destination holds the old export or the new one, never
    half of one, and an existing folder is replaced only if keras_cxr wrote it.
    Parity images are labelled (synthetic X-rays, or the calibration data's
    labels) and, where there are enough, other images than the calibration ones.
    """
    import keras

    from keras_cxr.models.loading import LoadedModel, load_classifier

    if keras.backend.backend() != "tensorflow":
        raise ExportError(f"Export builds a TensorFlow graph and needs KERAS_BACKEND=tensorflow (this is "
                          f"{keras.backend.backend()}); a .keras file loads the same under every backend, and "
                          "keras-cxr export switches by itself")
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}. Valid choices: {list(FORMATS)}")
    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    height, width, channels = loaded.input_shape
    if height != width:
        raise ValueError(f"Export expects square inputs, the model takes {height}x{width}")
    if format == "saved_model" and quantize != "none":
        raise ValueError("--quantize applies to --format tflite only")
    edge = build_edge_model(loaded.model, loaded.temperature)
    converter = loaded.converter
    images = calibration_images(calibration_data, converter) if quantize == "int8" else None
    check, names, overlap = _labelled_images(calibration_data, converter, parity_images, seed=1,
                                             exclude_calibration=images is not None)
    reference = loaded.predict_uint8(check)

    out = Path(out)
    labels = {"classes": loaded.classes, "model": loaded.name,
              "input": {"name": "image", "dtype": "uint8", "shape": [None, height, width, 1],
                        "description": "grayscale X-ray converted as 'preprocessing' says (resize to load_size, "
                                       "centre crop to the input size); scaling and channel copy happen inside "
                                       "the graph"},
              "preprocessing": converter.get_config(),
              "output": {"name": "probabilities", "dtype": "float32", "shape": [None, len(loaded.classes)]},
              # temperature (already applied inside the graph) and the conformal scores for prediction sets
              "calibration": loaded.calibration}
    report = {"model": loaded.name, "source": str(loaded.path), "format": format, "quantize": quantize,
              "path": str(out), "calibration_data": str(calibration_data) if calibration_data else "synthetic",
              "calibration_images": 0 if images is None else int(len(images)),
              "parity_overlaps_calibration": bool(overlap)}
    expected = (reference, _label_indices(names, loaded.classes), loaded.classes)
    write = _write_saved_model if format == "saved_model" else _write_tflite
    return write(edge, out, quantize, images, check, expected, (labels, current_card_files(loaded)), report)


def _checked_report(report, expected, exported, size):
    """Parity figures; raises ExportError (before anything reaches the destination) when a strict export disagrees.

    ``expected``: (Keras probabilities, true class index or None per image, class names).
    """
    reference, truth, classes = expected
    figures = parity_module.parity(reference, exported, labels=truth, classes=classes)
    report.update(size_bytes=int(size), parity=figures, passed=True)
    if report["quantize"] in STRICT and figures["top1_agreement"] < 1.0:
        raise ExportError(f"{report['format']}/{report['quantize']} export disagrees with Keras on top-1 for "
                          f"{1 - figures['top1_agreement']:.1%} of {figures['images']} images; "
                          f"nothing was written to {report['path']}")
    return report


def _write_saved_model(edge, out, quantize, images, check, expected, sidecars, report):
    """Build the SavedModel under a temporary name and swap it in only after its parity check passed.

    ``sidecars``: (``labels.json``'s dict, ``{model card file: text}``), written inside the folder.
    """
    labels, card = sidecars
    from keras_cxr.export.saved_model import export_saved_model, load_saved_model_fn

    with replacing_dir(out, "saved_model") as tmp:
        export_saved_model(edge, tmp)
        size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        report = _checked_report(report, expected, load_saved_model_fn(tmp)(check), size)
        report["labels"] = str(out / "labels.json")
        (tmp / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
        (tmp / "export_report.json").write_text(json.dumps(report, indent=2) + "\n")
        for name, text in card.items():
            (tmp / name).write_text(text)
    return report


def _write_tflite(edge, out, quantize, images, check, expected, sidecars, report):
    """Convert into a temporary file, check parity on it, then rename it (labels.json, model card) into place."""
    labels, card = sidecars
    from keras_cxr.export.saved_model import export_saved_model
    from keras_cxr.export.tflite import convert
    from keras_cxr.predict.litert import LiteRTModel

    if out.is_dir():
        raise ValueError(f"--out {out} is a directory; a TFLite export is a file (e.g. {out / 'model.tflite'})")
    with tempfile.TemporaryDirectory() as tmp:
        export_saved_model(edge, Path(tmp) / "saved_model")
        flatbuffer = convert(Path(tmp) / "saved_model", quantize, representative_images=images, model=edge)
        candidate = Path(tmp) / "model.tflite"
        candidate.write_bytes(flatbuffer)
        lite = LiteRTModel(candidate)
        report = _checked_report(report, expected, lite.predict_uint8(check), len(flatbuffer))
        report["graph"] = lite.graph_summary()  # what XNNPACK runs, what stays float (int8)
    report["labels"] = str(out.parent / "labels.json")
    write_bytes_atomic(out, flatbuffer)
    write_text_atomic(out.parent / "labels.json", json.dumps(labels, indent=2) + "\n")
    write_text_atomic(out.parent / "export_report.json", json.dumps(report, indent=2) + "\n")
    for name, text in card.items():
        write_text_atomic(out.parent / name, text)
    return report
