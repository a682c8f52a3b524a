"""``export``: a trained classifier -> SavedModel or TFLite, with labels and a parity report."""

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from keras_cxr.export import parity as parity_module
from keras_cxr.export.edge_graph import build_edge_model

FORMATS = ("saved_model", "tflite")
# Exports that must reproduce the Keras model's top-1 decision exactly.
STRICT = ("none", "float16")


class ExportError(RuntimeError):
    """An export that failed its parity check (the file is removed)."""


def calibration_images(source, converter, limit=100, seed=0):
    """uint8 grayscale model views (N, S, S, 1) of a manifest/folder, or of synthetic X-rays if None."""
    from keras_cxr.data.decode import ImageDecodeError
    from keras_cxr.data.synthetic import CLASSES, synthetic_cxr

    views = []
    if source is None:
        for i in range(min(limit, 32)):
            image, _ = synthetic_cxr(CLASSES[i % len(CLASSES)], size=max(converter.load_size, 64), seed=[seed, i])
            views.append(converter.convert_array(image))
    else:
        from keras_cxr.data.manifest import load_any

        manifest = load_any(source)
        records = manifest.records
        step = max(len(records) // limit, 1)
        for record in records[::step][:limit]:
            try:
                views.append(converter(manifest.resolve(record)))
            except ImageDecodeError:
                continue
        if not views:
            raise ValueError(f"No readable calibration images in {source}")
    return np.stack(views)


def export_model(model, out, format="tflite", quantize="none", calibration_data=None, parity_images=32):
    """Export ``model`` (run dir, .keras or LoadedModel) to ``out``; returns the export report.

    Writes ``labels.json`` beside the model (inside the SavedModel folder) and
    ``export_report.json`` (parity figures). float32/float16 exports whose top-1
    decisions differ from Keras on any parity image fail with ExportError.
    """
    from keras_cxr.export.saved_model import export_saved_model, load_saved_model_fn
    from keras_cxr.models.loading import LoadedModel, load_classifier

    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}. Valid choices: {list(FORMATS)}")
    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    height, width, channels = loaded.input_shape
    if height != width:
        raise ValueError(f"Export expects square inputs, the model takes {height}x{width}")
    if format == "saved_model" and quantize != "none":
        raise ValueError("--quantize applies to --format tflite only")
    edge = build_edge_model(loaded.model)
    converter = loaded.converter
    images = calibration_images(calibration_data, converter, limit=max(parity_images, 100))
    check = images[:parity_images]
    reference = loaded.predict_uint8(check)

    out = Path(out)
    labels = {"classes": loaded.classes, "model": loaded.name,
              "input": {"name": "image", "dtype": "uint8", "shape": [None, height, width, 1],
                        "description": "grayscale X-ray converted as 'preprocessing' says (resize to load_size, "
                                       "centre crop to the input size); scaling and channel copy happen inside "
                                       "the graph"},
              "preprocessing": converter.get_config(),
              "output": {"name": "probabilities", "dtype": "float32", "shape": [None, len(loaded.classes)]}}
    if format == "saved_model":
        if out.exists():
            shutil.rmtree(out)
        export_saved_model(edge, out)
        exported = load_saved_model_fn(out)(check)
        labels_path = out / "labels.json"
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    else:
        from keras_cxr.export.tflite import convert
        from keras_cxr.predict.litert import LiteRTModel

        with tempfile.TemporaryDirectory() as tmp:
            export_saved_model(edge, Path(tmp) / "saved_model")
            flatbuffer = convert(Path(tmp) / "saved_model", quantize, representative_images=images, model=edge)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(flatbuffer)
        exported = LiteRTModel(out).predict_uint8(check)
        labels_path = out.parent / "labels.json"
        size = out.stat().st_size
    labels_path.write_text(json.dumps(labels, indent=2) + "\n")
    figures = parity_module.parity(reference, exported)
    report = {"model": loaded.name, "source": str(loaded.path), "format": format, "quantize": quantize,
              "path": str(out), "labels": str(labels_path), "size_bytes": int(size),
              "calibration_data": str(calibration_data) if calibration_data else "synthetic",
              "parity": figures, "passed": True}
    if quantize in STRICT and figures["top1_agreement"] < 1.0:
        report["passed"] = False
    report_path = (out if format == "saved_model" else out.parent) / "export_report.json"
    report_path.write_text(json.dumps(report, indent=2) + "\n")
    if not report["passed"]:
        if out.is_dir():
            shutil.rmtree(out)
        else:
            out.unlink(missing_ok=True)
        raise ExportError(f"{format}/{quantize} export disagrees with Keras on top-1 for "
                          f"{1 - figures['top1_agreement']:.1%} of {figures['images']} images; removed {out}")
    return report
