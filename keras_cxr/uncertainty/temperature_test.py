import numpy as np
import pytest
from scipy.special import softmax

from keras_cxr.evaluation.calibration import expected_calibration_error
from keras_cxr.uncertainty.temperature import apply_temperature, fit_temperature, negative_log_likelihood


def _overconfident(true_temperature, n=8000, k=4, seed=0):
    """Labels drawn from softmax(z / T) while the model reports softmax(z): over-confident by T."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, (n, k))
    truth = softmax(logits / true_temperature, axis=1)
    labels = np.array([rng.choice(k, p=p) for p in truth])
    return labels, softmax(logits, axis=1)


def test_fit_recovers_the_temperature_that_made_the_labels():
    labels, probs = _overconfident(2.0)
    temperature = fit_temperature(labels, probs)
    assert temperature == pytest.approx(2.0, rel=0.08)
    assert negative_log_likelihood(labels, probs, temperature) < negative_log_likelihood(labels, probs)
    calibrated = apply_temperature(probs, temperature)
    assert expected_calibration_error(labels, calibrated) < 0.5 * expected_calibration_error(labels, probs)


def test_an_already_calibrated_model_keeps_temperature_one():
    labels, probs = _overconfident(1.0, seed=1)
    assert fit_temperature(labels, probs) == pytest.approx(1.0, rel=0.08)


def test_decisions_do_not_change_and_rows_sum_to_one():
    _, probs = _overconfident(2.0, n=200)
    for temperature in (0.5, 1.0, 3.0):
        scaled = apply_temperature(probs, temperature)
        assert np.array_equal(scaled.argmax(axis=1), probs.argmax(axis=1))
        assert np.allclose(scaled.sum(axis=1), 1.0)
    assert np.allclose(apply_temperature(probs, 1.0), probs, atol=1e-9)
    # Probabilities that underflowed to 0 stay finite.
    assert np.isfinite(apply_temperature(np.array([[1.0, 0.0, 0.0]]), 2.0)).all()


def test_no_labels_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        fit_temperature([], np.zeros((0, 3)))
