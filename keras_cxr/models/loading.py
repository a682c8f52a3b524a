"""Load a trained classifier with its class names: from a run directory or a ``.keras`` file.

A run directory (``keras-cxr train --out``) holds ``model.keras``,
``classes.json`` and ``preprocessing.json``; a bare ``.keras`` file may have
them beside it (without ``preprocessing.json`` images are resized whole).
Class names travel with the model so evaluation, explanation and export never
map outputs to the wrong labels. ``keras-cxr calibrate`` adds
``calibration.json`` (a temperature and conformal calibration scores), which
``predict_uint8``, ``evaluate`` and the exports then apply.
"""

import dataclasses
import functools
import json
from pathlib import Path

import keras

CALIBRATION_FILE = "calibration.json"


@dataclasses.dataclass
class LoadedModel:
    model: keras.Model
    classes: list
    name: str
    path: Path

    def __post_init__(self):
        self.path = Path(self.path)  # notebooks pass strings

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.model.input_shape[1:])

    @property
    def converter(self):
        """The file -> uint8 conversion the model was trained with (its run's ``preprocessing.json``)."""
        from keras_cxr.data.image_converter import converter_for

        return converter_for(self.path, self.input_shape[0])

    @functools.cached_property
    def calibration(self):
        """The run's ``calibration.json`` (temperature, conformal scores) beside the model, or None.

        Refused (ValueError) when it was fitted for another ``model.keras`` (the run trained on since)
        or other classes.
        """
        saved = read_calibration(self.path)
        if saved and saved.get("classes", self.classes) != list(self.classes):
            raise ValueError(f"calibration.json beside {self.path} is for classes {saved['classes']}, the model's "
                             f"are {self.classes}: run keras-cxr calibrate again")
        return saved

    @property
    def temperature(self):
        """The fitted temperature, or None for an uncalibrated model."""
        calibration = self.calibration
        return calibration["temperature"] if calibration else None

    def predict_uint8(self, images):
        """Probabilities for uint8 grayscale images (N, H, W, 1), as an exported model receives them.

        Calibrated with the run's temperature when it has one, like its exports.
        """
        import numpy as np

        x = np.asarray(images, np.float32) / 255.0
        if self.input_shape[-1] == 3:
            x = np.repeat(x, 3, axis=-1)
        probs = self.model.predict(x, verbose=0, batch_size=32)
        temperature = self.temperature
        if temperature is None:
            return probs
        from keras_cxr.uncertainty.temperature import apply_temperature

        return apply_temperature(probs, temperature).astype(np.float32)


def read_calibration(model_path):
    """``calibration.json`` beside ``model_path`` (a ``.keras`` file or run directory), checked, or None."""
    path = Path(model_path)
    path = (path if path.is_dir() else path.parent) / CALIBRATION_FILE
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    temperature = saved.get("temperature") if isinstance(saved, dict) else None
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"{path}: expected a positive 'temperature' (written by keras-cxr calibrate)")
    missing = [key for key in ("fitted_on", "ece", "classes") if key not in saved]
    if missing:
        raise ValueError(f"{path}: missing {missing}; write it with keras-cxr calibrate")
    model_file = Path(model_path) / "model.keras" if Path(model_path).is_dir() else Path(model_path)
    if saved.get("model_sha1") and model_file.is_file() and saved["model_sha1"] != model_sha1(model_file):
        raise ValueError(f"{path} was fitted for another {model_file.name} (the model changed since, e.g. trained "
                         f"on): run `keras-cxr calibrate {path.parent}` again, or delete {path}")
    return saved


def model_sha1(path):
    """SHA-1 of a model file: ties a calibration (and a model card) to the weights it was fitted for.

    Read once per file version: evaluate and export ask for it several times (calibration, card).
    """
    path = Path(path).resolve()
    stat = path.stat()
    return _file_sha1(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _file_sha1(path, mtime_ns, size):
    import hashlib

    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_classes(path):
    """The class names of a ``classes.json``: a list, or ``{"classes": [...], "merged": {...}}`` as runs write it."""
    saved = json.loads(Path(path).read_text())
    classes = saved.get("classes") if isinstance(saved, dict) else saved
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"{path}: expected a list of class names or {{\"classes\": [...]}}")
    return classes


def load_classifier(path, classes=None):
    """``path``: run directory or ``.keras`` file. ``classes`` overrides the saved names."""
    from keras_cxr.models import load_model

    path = Path(path)
    if path.is_dir():
        model_path = path / "model.keras"
        if not model_path.is_file():
            raise FileNotFoundError(f"{path} is not a run directory: no model.keras inside")
    elif path.is_file():
        if path.suffix != ".keras":
            raise ValueError(f"{path}: expected a run directory or a .keras model file")
        model_path = path
    else:
        raise FileNotFoundError(f"Model not found: {path}")
    model = load_model(model_path)
    if classes is None:
        saved = model_path.parent / "classes.json"
        classes = read_classes(saved) if saved.is_file() else None
    outputs = int(model.output_shape[-1])
    if classes is None:
        classes = [f"class_{i}" for i in range(outputs)]
    if len(classes) != outputs:
        raise ValueError(f"{model_path} has {outputs} outputs but {len(classes)} class names {classes}")
    return LoadedModel(model, list(classes), model.name, model_path)
