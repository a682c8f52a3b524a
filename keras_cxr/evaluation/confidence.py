"""Uncertainty of the reported numbers: t-intervals and bootstrap intervals (SciPy, NumPy)."""

import numpy as np
from scipy import stats


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
    """Percentile bootstrap interval of ``statistic(y_true, y_pred)`` over resampled cases."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    n = len(y_true)
    estimates = []
    for _ in range(n_resamples):
        index = rng.integers(0, n, n)
        value = statistic(y_true[index], y_pred[index])
        if value is not None and np.isfinite(value):
            estimates.append(value)
    point = statistic(y_true, y_pred)
    if not estimates:
        return {"value": point, "lower": None, "upper": None}
    alpha = (1 - confidence) / 2
    lower, upper = np.quantile(estimates, [alpha, 1 - alpha])
    return {"value": float(point), "lower": float(lower), "upper": float(upper), "resamples": n_resamples}
