"""Uncertainty of the reported numbers: t-intervals and bootstrap intervals (SciPy, NumPy)."""

import warnings

import numpy as np
from scipy import stats

# Resampled indices SciPy holds at once (resamples x cases): a batch of resamples, not all, for large test sets.
BOOTSTRAP_BATCH_CELLS = 1_000_000


def mean_with_t_interval(values, confidence=0.95):
    """Mean and its two-sided Student-t confidence interval (Zhong 2020, Table 4)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return {"mean": None, "lower": None, "upper": None, "n": 0}
    mean = float(values.mean())
    if n < 2 or values.std() == 0:
        return {"mean": mean, "lower": mean, "upper": mean, "n": n}
    lower, upper = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(values))
    return {"mean": mean, "lower": float(lower), "upper": float(upper), "n": n}


def true_class_probability(y_true, probs, classes, confidence=0.95):
    """Per class: mean predicted probability of the true class with its t-interval."""
    y_true = np.asarray(y_true)
    return {
        name: mean_with_t_interval(probs[y_true == i, i], confidence) for i, name in enumerate(classes)
    }


def bootstrap_interval(statistic, y_true, y_pred, n_resamples=1000, confidence=0.95, seed=0):
    """Percentile bootstrap interval of ``statistic(y_true, y_pred)`` over resampled cases: ``scipy.stats.bootstrap``.

    The cases are resampled as pairs the way SciPy's ``paired=True`` does it, by resampling their index (one
    index picks both ``y_true[i]`` and ``y_pred[i]``, so ``y_pred`` may also be an (n, k) array), with
    ``numpy.random.default_rng(seed)``.
    Resamples where the statistic is undefined (None or not finite, e.g. a sensitivity without a positive case)
    are left out of the percentiles. Without any defined resample, or with ``n_resamples=0``, there is no
    interval: ``lower`` and ``upper`` are None and ``resamples`` is absent.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    point = statistic(y_true, y_pred)
    n = len(y_true)
    if n_resamples < 1:
        return {"value": point, "lower": None, "upper": None}
    if n < 2:  # SciPy wants two cases; every resample of one case is that case
        distribution, result = np.full(n_resamples, _defined(point)), None
    else:
        def per_resample(index, axis=-1):
            return np.array([_defined(statistic(y_true[i], y_pred[i])) for i in index])

        with warnings.catch_warnings():  # undefined resamples make SciPy's own percentiles NaN: taken below
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            result = stats.bootstrap((np.arange(n),), per_resample, vectorized=True, n_resamples=n_resamples,
                                     batch=max(1, BOOTSTRAP_BATCH_CELLS // n), method="percentile",
                                     confidence_level=confidence, rng=np.random.default_rng(seed))
        distribution = result.bootstrap_distribution
    defined = distribution[np.isfinite(distribution)]
    if not defined.size:
        return {"value": point, "lower": None, "upper": None}
    if result is not None and defined.size == distribution.size:
        lower, upper = result.confidence_interval
    else:  # the percentiles SciPy takes (``stats.quantile``, linear), of the defined resamples
        alpha = (1 - confidence) / 2
        lower, upper = np.quantile(defined, [alpha, 1 - alpha])
    return {"value": float(point), "lower": float(lower), "upper": float(upper), "resamples": n_resamples}


def _defined(value):
    """The statistic as a float, NaN where it is undefined (None)."""
    return np.nan if value is None else float(value)
