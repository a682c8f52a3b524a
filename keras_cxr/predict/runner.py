"""``predict``: class probabilities for image files, from any exported or Keras model."""

from pathlib import Path

import numpy as np

from keras_cxr.data.decode import ImageDecodeError, is_image_file
from keras_cxr.data.image_converter import exported_converter


def _backend(model_path):
    """(predict(uint8 batch) -> probs, classes, ImageConverter) for .tflite, SavedModel or Keras models."""
    path = Path(model_path)
    if path.suffix == ".tflite":
        from keras_cxr.predict.litert import LiteRTModel

        model = LiteRTModel(path)
        return model.predict_uint8, model.classes, model.converter
    if path.is_dir() and (path / "saved_model.pb").is_file():
        import json

        from keras_cxr.export.saved_model import load_saved_model_fn

        labels = json.loads((path / "labels.json").read_text())
        size = int(labels["input"]["shape"][1])
        return load_saved_model_fn(path), labels["classes"], exported_converter(labels, size)
    from keras_cxr.models.loading import load_classifier

    loaded = load_classifier(path)
    return loaded.predict_uint8, loaded.classes, loaded.converter


def predict_paths(model_path, inputs):
    """``[{"path", "predicted", "probabilities"} or {"path", "error"}]`` for every image in ``inputs``."""
    predict, classes, converter = _backend(model_path)
    paths = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.is_file() and is_image_file(p)))
        else:
            paths.append(item)
    results = []
    for path in paths:
        try:
            image = converter(path)
        except ImageDecodeError as error:
            results.append({"path": str(path), "error": error.reason})
            continue
        probs = np.asarray(predict(image[None]))[0]
        names = classes or [f"class_{i}" for i in range(len(probs))]
        results.append({"path": str(path), "predicted": names[int(probs.argmax())],
                        "probabilities": {n: float(p) for n, p in zip(names, probs)}})
    return results
