"""``keras-cxr calibrate RUN``: fit a temperature and conformal scores on the validation split, store them with the run.

The validation split, never the test split: what is fitted on the test images
cannot be judged on them. The run's own ``split.csv`` supplies the
validation images by default; another manifest may be given (its ``val``
split), checked against the run's training split like any evaluation. The
result, ``calibration.json`` beside ``model.keras``, is then applied by
``predict``, ``evaluate`` and ``export`` (:mod:`keras_cxr.models.loading`):

- ``temperature`` (Guo et al. 2017) with the NLL and ECE before and after;
- the calibrated probability of the true class for each validation image,
  from which :class:`~keras_cxr.uncertainty.ConformalSets` makes
  prediction sets at any coverage (split conformal).

The temperature and the conformal scores use the same images; a single
fitted parameter barely breaks their exchangeability with test images, and
the coverage test on synthetic data checks the guarantee still holds.
"""

import json
from pathlib import Path

import numpy as np

from keras_cxr.evaluation import calibration as calibration_metrics
from keras_cxr.uncertainty.conformal import ConformalSets
from keras_cxr.uncertainty.temperature import (LOG_T_BOUNDS, apply_temperature, fit_temperature,
                                                negative_log_likelihood)
from keras_cxr.models.loading import CALIBRATION_FILE, model_sha1
from keras_cxr.utils.outputs import write_text_atomic

FIGURE = "calibration_reliability.png"


def calibrate(model, data=None, *, class_map=None, class_conditional=False, tta=False, batch_size=32):
    """Fit and store the calibration of ``model`` (run dir or ``.keras``); returns ``calibration.json``'s dict.

    ``data``: a manifest with a ``val`` split (default: the run's ``split.csv``); none of its val images
    may be in the run's train or test split.
    ``class_conditional``: conformal sets calibrated per class (see :mod:`~keras_cxr.uncertainty.conformal`).
    ``tta``: fit on flip-averaged probabilities, for ``evaluate --tta`` (which refuses a mismatch).
    """
    from keras_cxr.models.loading import LoadedModel, load_classifier

    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    manifest, source = _validation_images(loaded, data, class_map)
    y_true, raw = _score_validation(loaded, manifest, batch_size, tta)
    temperature = fit_temperature(y_true, raw)
    calibrated = apply_temperature(raw, temperature)
    result = {
        "temperature": temperature,
        "model_sha1": model_sha1(loaded.path),
        "fitted_on": {"data": source, "split": "val", "images": len(y_true), "tta": bool(tta),
                      "class_counts": {c: int((y_true == i).sum()) for i, c in enumerate(loaded.classes)}},
        "classes": list(loaded.classes),
        "nll": {"before": negative_log_likelihood(y_true, raw), "after": negative_log_likelihood(y_true, calibrated)},
        "ece": {"before": calibration_metrics.expected_calibration_error(y_true, raw),
                "after": calibration_metrics.expected_calibration_error(y_true, calibrated)},
        "conformal": ConformalSets.fit(y_true, calibrated, class_conditional).to_dict(),
    }
    result["warnings"] = _warnings(result, y_true, len(loaded.classes), class_conditional)
    folder = loaded.path.parent
    _plot(y_true, raw, calibrated, temperature, folder / FIGURE)
    write_text_atomic(folder / CALIBRATION_FILE, json.dumps(result, indent=2) + "\n")
    return result


# Split conformal at coverage c can leave a class out only with more than 1 / (1 - c) - 1 calibration scores.
REPORTED_COVERAGE = 0.95
# Fewer val images than this per fitted quantity: the temperature and the sets rest on a handful of images.
FEW_IMAGES = 100


def _warnings(result, y_true, num_classes, class_conditional):
    """What makes this calibration unreliable, as sentences (also printed by the CLI)."""
    found = []
    low, high = np.exp(LOG_T_BOUNDS)
    if not low * 1.01 < result["temperature"] < high * 0.99:
        found.append(f"the temperature hit the search bound ({result['temperature']:.3f}): the model is near "
                     "random on the val split, or the split is too small to fit it")
    counts = np.bincount(y_true, minlength=num_classes)
    smallest = int(counts.min()) if class_conditional else len(y_true)
    needed = int(np.ceil(1 / (1 - REPORTED_COVERAGE))) - 1
    if smallest <= needed:
        found.append(f"{smallest} calibration image(s){' in the smallest class' if class_conditional else ''}: "
                     f"sets at {REPORTED_COVERAGE:.0%} coverage always hold every class (more than {needed} needed)")
    elif len(y_true) < FEW_IMAGES:
        found.append(f"only {len(y_true)} val images: the temperature and the sets' coverage vary a lot "
                     "from one val split to another")
    return found


def _validation_images(loaded, data, class_map):
    """(the val split to fit on, where it came from), refused if any of it is in the run's training split."""
    from keras_cxr.evaluation.evaluator import align_classes, read_class_map
    from keras_cxr.evaluation.selection import SPLIT_FILE, check_training_overlap, run_split, select_images

    trained_on = run_split(loaded.path)
    if data is None:
        if trained_on is None:
            raise ValueError(f"No split.csv beside {loaded.path}: give --data, a manifest with a val split")
        data = loaded.path.parent / SPLIT_FILE
    try:
        manifest, _ = select_images(data, "val", trained_on)
    except ValueError:
        raise ValueError(f"{data} has no split column and is not this run's data: give a manifest with a val "
                         "split (keras-cxr data split), or leave out --data to use the run's own split.csv")
    if isinstance(class_map, (str, Path)):
        class_map = read_class_map(class_map)
    manifest = align_classes(manifest, loaded.classes, class_map)
    if not manifest.records:
        raise ValueError(f"{data} has no val images to calibrate on")
    check_training_overlap(manifest, trained_on, allow_overlap=False, model_path=loaded.path)
    _refuse_test_images(manifest, trained_on)
    return manifest, str(data)


def _refuse_test_images(manifest, trained_on):
    """Calibrating on the run's test images would make every later test figure in-sample."""
    from keras_cxr.evaluation.selection import training_overlap

    if trained_on is None or not trained_on.has_splits() or not trained_on.subset("test").records:
        return
    overlap = training_overlap(manifest, trained_on, split="test")
    if overlap["images_overlapping"]:
        raise ValueError(f"{overlap['images_overlapping']} of the {overlap['images']} val image(s) share a patient "
                         "or file with the run's test split; calibrate on images the test figures do not use")


def _score_validation(loaded, manifest, batch_size, tta):
    """Labels and uncalibrated probabilities; an unreadable validation image stops with its name."""
    from keras_cxr.data.pipeline import check_files
    from keras_cxr.evaluation.inference import score_manifest

    check_files(manifest, skip_bad=False, report_path=None)
    return score_manifest(loaded, manifest, batch_size, tta)


def _plot(y_true, raw, calibrated, temperature, path):
    from keras_cxr.evaluation.figures import plot_reliability_before_after

    def summary(probs):
        return {"bins": calibration_metrics.reliability_bins(y_true, probs),
                "ece": calibration_metrics.expected_calibration_error(y_true, probs)}

    return plot_reliability_before_after(summary(raw), summary(calibrated), temperature, path)
