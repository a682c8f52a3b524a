"""What ``keras-cxr serve`` does with one uploaded X-ray, without any web framework.

The probabilities come from :func:`keras_cxr.predict.runner.score_images`, the
function ``keras-cxr predict`` calls, on the run's own converter: the page shows
the numbers ``predict`` writes, calibrated by the run's temperature, with the
conformal set when the run is calibrated. Grad-CAM (Keras models only) explains
the predicted class on the same model input, which the page also shows, so a
user sees what the network was given (the crop, the denoising, the size), not
just the file they dropped.
"""

import dataclasses
import threading
from pathlib import Path

import numpy as np

from keras_cxr.pages.render import array_data_uri

DISPLAY_PX = 512  # longest side of the X-ray and overlay the page shows


@dataclasses.dataclass
class ModelService:
    """A model ready to score uploads: :meth:`analyse` bytes -> a JSON-ready dict.

    Build with :func:`load_service`. Calls are serialised by a lock: one model, one request at a time.
    """

    name: str
    path: Path
    predictor: object
    explainer: object = None
    coverage: float = None
    card_markdown: str = None
    notes: list = dataclasses.field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._sets = None
        if self.coverage is not None and self.predictor.calibration:
            self._sets = (self.predictor.conformal_sets(), self.coverage)

    @property
    def classes(self):
        return list(self.predictor.classes)

    def info(self):
        """The model as the page describes it: name, classes, input, calibration and what is shown."""
        calibration = self.predictor.calibration or {}
        converter = self.predictor.converter
        return {"name": self.name, "path": str(self.path), "classes": self.classes,
                "input_size": converter.image_size, "preprocessing": converter.get_config(),
                "temperature": calibration.get("temperature"),
                "conformal_coverage": self.coverage if self._sets else None,
                "gradcam": self.explainer is not None, "notes": list(self.notes)}

    def analyse(self, data, name):
        """One file's bytes -> probabilities, conformal set, the model's input and the Grad-CAM overlay.

        Raises :class:`~keras_cxr.data.decode.ImageDecodeError` (naming ``name``) for a file that is
        not a readable X-ray.
        """
        from keras_cxr.data.decode import read_image_bytes
        from keras_cxr.explain.overlay import thumbnail
        from keras_cxr.predict.runner import score_images

        gray = read_image_bytes(data, name)
        view = self.predictor.converter.convert_array(gray)
        with self._lock:
            record = score_images(self.predictor, [view], [name], self._sets)[0]
            overlay = self._overlay(gray, view, self.classes.index(record["predicted"]))
        record.update(image=array_data_uri(thumbnail(gray, DISPLAY_PX)), model_input=array_data_uri(view, "PNG"),
                      gradcam=overlay, size=list(gray.shape[:2]))
        if self._sets:
            record["coverage"] = self.coverage
        return record

    def _overlay(self, gray, view, target):
        """The Grad-CAM of ``target`` over the whole X-ray (None without an explainer)."""
        if self.explainer is None:
            return None
        from keras_cxr.pages.image_browser import overlay_data_uri

        channels = self.explainer.input_shape[-1]
        model_input = np.repeat(view.astype(np.float32) / 255.0, channels, axis=-1)
        heatmap = self.explainer(model_input[None], [target])[0]
        return overlay_data_uri(gray, heatmap, self.predictor.converter, DISPLAY_PX)


def load_service(model, coverage=0.95, gradcam=True):
    """A :class:`ModelService` for a run directory or ``.keras`` file (Grad-CAM), or a ``.tflite``/SavedModel export.

    ``coverage``: of the conformal sets shown for a calibrated model (None: no sets).
    """
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"Model not found: {path}")
    if path.suffix == ".tflite" or (path.is_dir() and (path / "saved_model.pb").is_file()):
        return _export_service(path, coverage)
    from keras_cxr.evaluation.model_card import CARD_MD, current_card_files
    from keras_cxr.models.loading import load_classifier
    from keras_cxr.predict.runner import Predictor

    loaded = load_classifier(path)
    predictor = Predictor(loaded.predict_uint8, list(loaded.classes), loaded.converter, loaded.calibration)
    explainer, notes = None, []
    if gradcam:
        from keras_cxr.explain.maps import Explainer

        try:
            explainer = Explainer(loaded.model, "gradcam")
        except ValueError as error:
            notes.append(f"No Grad-CAM: {error}")
    notes += _calibration_notes(predictor, coverage)
    return ModelService(loaded.name, loaded.path, predictor, explainer, coverage,
                        current_card_files(loaded)[CARD_MD], notes)


def _export_service(path, coverage):
    """An exported model: probabilities and sets as ``predict`` gives them; its card if the export carries one."""
    from keras_cxr.evaluation.model_card import CARD_MD
    from keras_cxr.predict.runner import load_predictor

    predictor = load_predictor(path)
    card = (path if path.is_dir() else path.parent) / CARD_MD
    notes = ["No Grad-CAM for an exported model: serve the run directory or .keras file to see where it looked."]
    notes += _calibration_notes(predictor, coverage)
    return ModelService(path.stem, path, predictor, None, coverage, card.read_text() if card.is_file() else None,
                        notes)


def _calibration_notes(predictor, coverage):
    if predictor.calibration:
        return []
    return ["Uncalibrated: these are the network's own probabilities (keras-cxr calibrate RUN fits a temperature"
            + (" and the conformal sets)." if coverage is not None else ").")]
