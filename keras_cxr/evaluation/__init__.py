"""Evaluation: every metric the papers report, with intervals, figures and comparison tables.

Metrics come from scikit-learn and SciPy; the small modules each do one thing:
``classification`` (per-class, averaged, ROC-AUC, confusion), ``confidence``
(t-intervals, bootstrap), ``calibration`` (ECE, reliability), ``summary``
(all of them), ``groups`` (the same per population, source or site),
``selection`` (which images may be scored: the run's split, leakage checks),
``evaluator`` (a model on a dataset), ``compare`` (tables).
"""

from keras_cxr.evaluation.calibration import expected_calibration_error, reliability_bins
from keras_cxr.evaluation.compare import comparison_rows, write_comparison
from keras_cxr.evaluation.confidence import bootstrap_interval, mean_with_t_interval, true_class_probability
from keras_cxr.evaluation.groups import group_metrics
from keras_cxr.evaluation.selection import LeakageError, select_images, training_overlap
from keras_cxr.evaluation.summary import summarize


def evaluate(*args, **kwargs):
    """See :func:`keras_cxr.evaluation.evaluator.evaluate` (imported lazily: it needs TensorFlow)."""
    from keras_cxr.evaluation.evaluator import evaluate as _evaluate

    return _evaluate(*args, **kwargs)


__all__ = [
    "LeakageError",
    "bootstrap_interval",
    "comparison_rows",
    "evaluate",
    "expected_calibration_error",
    "group_metrics",
    "mean_with_t_interval",
    "reliability_bins",
    "select_images",
    "summarize",
    "training_overlap",
    "true_class_probability",
    "write_comparison",
]
