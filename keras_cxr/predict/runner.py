"""``predict``: class probabilities for image files, from any exported or Keras model, in batches.

Images are read, converted and scored a batch at a time, so memory holds one
batch of model-sized uint8 images whatever the number of files, and the model
(or the LiteRT interpreter) is called once per batch rather than once per
image. :func:`iter_predictions` is the engine; :func:`predict_paths` collects
its records for small runs and :func:`keras_cxr.predict.predict_to_csv`
streams them to a resumable CSV for large ones.
"""

import dataclasses
from pathlib import Path

import numpy as np

from keras_cxr.data.decode import ImageDecodeError, images_below
from keras_cxr.data.image_converter import ImageConverter, exported_converter

DEFAULT_BATCH_SIZE = 32


@dataclasses.dataclass
class Predictor:
    """What scoring needs from any model format: uint8 batch -> probabilities, class names, file -> uint8.

    ``calibration``: the run's ``calibration.json`` (the probabilities are already scaled by its
    temperature: in the graph for exports, by :class:`LoadedModel` for ``.keras``), whose conformal
    scores give prediction sets.
    """

    predict_uint8: object
    classes: list
    converter: ImageConverter
    calibration: dict = None

    def conformal_sets(self):
        """The :class:`~keras_cxr.uncertainty.ConformalSets` of a calibrated model (ValueError if none)."""
        from keras_cxr.uncertainty.conformal import conformal_sets

        sets = conformal_sets(self.calibration)
        if sets is None:
            raise ValueError("Conformal sets need a calibrated model: run `keras-cxr calibrate RUN` first "
                             "(exports made after calibrating carry the calibration in labels.json)")
        return sets


def _saved_model_predictor(path):
    """A SavedModel export: its signature, and the classes and preprocessing its ``labels.json`` records."""
    import json

    from keras_cxr.export.saved_model import load_saved_model_fn

    labels = json.loads((path / "labels.json").read_text())
    size = int(labels["input"]["shape"][1])
    return Predictor(load_saved_model_fn(path), list(labels["classes"]), exported_converter(labels, size),
                     labels.get("calibration"))


def load_predictor(model):
    """A :class:`Predictor` for a ``.tflite`` file, a SavedModel folder, a run directory or ``.keras`` file.

    The ``.tflite`` branch imports neither TensorFlow nor Keras (edge installs).
    A :class:`Predictor` passed in is returned as is, so notebooks load once.
    """
    if isinstance(model, Predictor):
        return model
    path = Path(model)
    if path.suffix == ".tflite":
        from keras_cxr.predict.litert import LiteRTModel

        lite = LiteRTModel(path)
        classes = lite.classes or [f"class_{i}" for i in range(lite.num_classes)]
        return Predictor(lite.predict_uint8, list(classes), lite.converter, (lite.labels or {}).get("calibration"))
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return _saved_model_predictor(path)
    from keras_cxr.models.loading import load_classifier

    loaded = load_classifier(path)
    return Predictor(loaded.predict_uint8, list(loaded.classes), loaded.converter, loaded.calibration)


def _manifest_paths(csv_path):
    """The image paths a manifest CSV lists, resolved against the manifest's folder."""
    from keras_cxr.data.sources import load_any

    manifest = load_any(csv_path)
    return [manifest.resolve(record) for record in manifest.records]


def collect_paths(inputs):
    """Image paths from files, folders (recursively, sorted) and manifest ``.csv`` files, without repeats.

    A missing file is kept: it becomes a per-file error row instead of stopping a long run.
    """
    paths, seen = [], set()
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            found = images_below(item)
        elif item.suffix.lower() == ".csv" and item.is_file():
            found = _manifest_paths(item)
        else:
            found = [item]
        for path in found:
            if str(path) not in seen:
                seen.add(str(path))
                paths.append(path)
    return paths


def batches(items, batch_size):
    """Consecutive slices of ``items`` of ``batch_size`` (the last one shorter)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(items), batch_size):
        yield items[start:start + batch_size]


def _read_batch(converter, paths):
    """(uint8 images, their paths, error records): unreadable files are reported, not raised."""
    images, good, errors = [], [], []
    for path in paths:
        try:
            images.append(converter(path))
            good.append(path)
        except ImageDecodeError as error:
            errors.append({"path": str(path), "error": error.reason})
    return images, good, errors


def score_batch(predictor, paths, conformal=None):
    """Records for one batch of paths, in input order: one model call for all readable images.

    ``conformal``: ``(ConformalSets, coverage)`` to add each image's prediction set (``"set"``, most
    probable class first): two or more classes flag an image the model cannot decide at that coverage.
    """
    images, good, errors = _read_batch(predictor.converter, paths)
    scored = {r["path"]: r for r in score_images(predictor, images, good, conformal)}
    failed = {e["path"]: e for e in errors}
    return [scored.get(str(p)) or failed[str(p)] for p in paths]


def score_images(predictor, images, paths, conformal=None):
    """Records for already-converted uint8 images (one model call), as :func:`score_batch` gives them.

    Shared by :func:`score_batch` and the Beam handler (:mod:`keras_cxr.predict.beam`), so both runners
    build the same records from the same probabilities.
    """
    if not len(images):
        return []
    probs = np.asarray(predictor.predict_uint8(np.stack(images)), np.float64)
    sets = conformal[0].predict(probs, conformal[1]) if conformal else None
    records = []
    for i, (path, row) in enumerate(zip(paths, probs)):
        record = {"path": str(path), "predicted": predictor.classes[int(row.argmax())],
                  "probabilities": {c: float(p) for c, p in zip(predictor.classes, row)}}
        if sets is not None:
            from keras_cxr.uncertainty.conformal import set_names

            record["set"] = set_names(sets[i], row, predictor.classes)
        records.append(record)
    return records


def iter_predictions(model, paths, batch_size=DEFAULT_BATCH_SIZE, conformal=None):
    """Yield the records of each batch of ``paths`` as it is scored (bounded memory for any count).

    ``conformal``: a target coverage (e.g. 0.95) for prediction sets; needs a calibrated model.
    """
    predictor = load_predictor(model)
    sets = _conformal(predictor, conformal)
    for chunk in batches(list(paths), batch_size):
        yield score_batch(predictor, chunk, sets)


def _conformal(predictor, coverage):
    """``(ConformalSets, coverage)`` for :func:`score_batch`, None without a coverage; refused for uncalibrated models."""
    return (predictor.conformal_sets(), coverage) if coverage is not None else None


def predict_paths(model, inputs, batch_size=DEFAULT_BATCH_SIZE, conformal=None):
    """``[{"path", "predicted", "probabilities"[, "set"]} or {"path", "error"}]`` for every image in ``inputs``.

    ``inputs``: image files, folders and manifest CSVs. All records are kept in
    memory: for tens of thousands of images use :func:`predict_to_csv`.
    ``conformal``: target coverage of the prediction sets (calibrated models only).
    """
    records = []
    for batch in iter_predictions(model, collect_paths(inputs), batch_size, conformal):
        records.extend(batch)
    return records

