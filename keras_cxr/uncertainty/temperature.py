"""Temperature scaling (Guo et al. 2017): one number that makes a predicted 0.9 mean right 9 times in 10.

Deep classifiers are over-confident; dividing the logits by a temperature
``T`` fitted on held-out data (the validation split, never the test split)
fixes most of it without changing any decision, since ``argmax`` is the same
for every ``T > 0``. keras_cxr models end in a softmax, so the logits are
recovered as ``log p`` (equal to the logits up to a per-image constant, which
the softmax removes); probabilities that underflowed to 0 are read as
``PROBABILITY_FLOOR``. The same floor is used by the exported graphs'
:class:`keras_cxr.layers.TemperatureScaling`, so numpy and device agree.
"""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

# Smallest probability read as a logit (float32 softmax outputs can be exactly 0).
PROBABILITY_FLOOR = 1e-12
# Temperatures searched: 0.05 to 20 covers every model we measured by a wide margin.
LOG_T_BOUNDS = (np.log(0.05), np.log(20.0))


def apply_temperature(probs, temperature):
    """``softmax(log(p) / T)`` for each row of ``probs``: the calibrated probabilities."""
    logits = np.log(np.maximum(np.asarray(probs, np.float64), PROBABILITY_FLOOR))
    return softmax(logits / float(temperature), axis=1)


def negative_log_likelihood(y_true, probs, temperature=1.0):
    """Mean NLL of the true classes after scaling by ``temperature`` (the quantity temperature scaling minimises)."""
    logits = np.log(np.maximum(np.asarray(probs, np.float64), PROBABILITY_FLOOR))
    log_probs = log_softmax(logits / float(temperature), axis=1)
    return float(-log_probs[np.arange(len(log_probs)), np.asarray(y_true, int)].mean())


def fit_temperature(y_true, probs):
    """The temperature minimising the NLL of ``probs`` (n, k) for integer labels ``y_true``.

    A one-dimensional bounded search over ``log T`` (Brent's method, SciPy):
    the NLL is convex in ``1/T``, so the minimum found is the minimum.
    """
    y_true = np.asarray(y_true, int)
    if len(y_true) == 0:
        raise ValueError("Temperature scaling needs at least one labelled image")
    result = minimize_scalar(lambda log_t: negative_log_likelihood(y_true, probs, np.exp(log_t)),
                             bounds=LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def calibrated_probabilities(probs, calibration):
    """``probs`` scaled by a ``calibration.json``'s temperature (unchanged without a calibration)."""
    return apply_temperature(probs, calibration["temperature"]) if calibration else np.asarray(probs)
