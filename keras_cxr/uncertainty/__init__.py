"""Probabilities a reader can trust: temperature scaling and conformal prediction sets.

NumPy and SciPy only (no TensorFlow, no scikit-learn), so an edge install that
scores a ``.tflite`` export makes the same prediction sets as ``evaluate``.
``keras-cxr calibrate`` (:mod:`keras_cxr.evaluation.calibrate`) fits both on a
run's validation split; ``calibration.json`` stores them.
"""

from keras_cxr.uncertainty.conformal import ConformalSets, conformal_sets, coverage_report, set_coverage, set_names
from keras_cxr.uncertainty.temperature import apply_temperature, calibrated_probabilities, fit_temperature

__all__ = ["ConformalSets", "apply_temperature", "calibrated_probabilities", "conformal_sets", "coverage_report",
           "fit_temperature", "set_coverage", "set_names"]
