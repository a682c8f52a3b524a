import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from keras_cxr.evaluation import bootstrap_interval, expected_calibration_error, mean_with_t_interval


def test_t_interval_of_a_known_sample():
    ci = mean_with_t_interval([1, 2, 3, 4, 5])
    # mean 3, sem = sqrt(2.5)/sqrt(5), t(0.975, 4) = 2.7764
    half = 2.776445 * np.sqrt(2.5) / np.sqrt(5)
    assert ci["mean"] == 3 and ci["n"] == 5
    assert ci["lower"] == pytest.approx(3 - half, abs=1e-4) and ci["upper"] == pytest.approx(3 + half, abs=1e-4)
    assert mean_with_t_interval([]) == {"mean": None, "lower": None, "upper": None, "n": 0}


def test_bootstrap_interval_is_reproducible_and_brackets_the_estimate():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    a = bootstrap_interval(accuracy_score, y, pred, n_resamples=300, seed=3)
    b = bootstrap_interval(accuracy_score, y, pred, n_resamples=300, seed=3)
    assert a == b
    assert a["lower"] < a["value"] < a["upper"]
    assert 0.03 < a["upper"] - a["lower"] < 0.15  # about +-1.96 * sqrt(0.8 * 0.2 / 300)


def test_expected_calibration_error():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    confident_right = np.tile([0.0, 1.0], (10, 1))
    confident_right[:4] = [1.0, 0.0]
    assert expected_calibration_error(y, confident_right) == pytest.approx(0.0)
    # Always 0.75 sure of class 1 while right 6/10 of the time: ECE = |0.6 - 0.75|.
    hedged = np.tile([0.25, 0.75], (10, 1))
    assert expected_calibration_error(y, hedged) == pytest.approx(0.15)


def _scipy_percentile_interval(statistic, y, pred, n_resamples, seed, confidence=0.95):
    """SciPy's paired percentile bootstrap, called directly."""
    from scipy import stats

    def per_resample(t, p, axis=-1):
        return np.array([statistic(a, b) for a, b in zip(t, p)])

    return stats.bootstrap((y, pred), per_resample, paired=True, vectorized=True, n_resamples=n_resamples,
                           method="percentile", confidence_level=confidence, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("n,resamples,seed,confidence", [(300, 200, 3, 0.95), (25, 99, 0, 0.9), (2, 10, 5, 0.95)])
def test_bootstrap_interval_is_scipys_percentile_bootstrap(n, resamples, seed, confidence):
    rng = np.random.default_rng(n)
    y = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 3, n))
    ours = bootstrap_interval(accuracy_score, y, pred, n_resamples=resamples, confidence=confidence, seed=seed)
    scipy_ci = _scipy_percentile_interval(accuracy_score, y, pred, resamples, seed, confidence).confidence_interval
    assert ours["lower"] == pytest.approx(scipy_ci.low, rel=1e-12)
    assert ours["upper"] == pytest.approx(scipy_ci.high, rel=1e-12)
    assert ours["value"] == accuracy_score(y, pred) and ours["resamples"] == resamples


def _resampling_loop_reference(statistic, y_true, y_pred, n_resamples, confidence=0.95, seed=0):
    """How bootstrap_interval computed intervals before it called SciPy: one resample at a time."""
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


def _sensitivity(t, p):
    return float(np.mean(p[t == 1] == 1)) if (t == 1).any() else None


def _auroc(t, probs):
    from sklearn.metrics import roc_auc_score

    return roc_auc_score(t, probs[:, 1]) if len(set(t.tolist())) == 2 else None


_Y = np.array([0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
_P = np.array([0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0])
DEGENERATE = {  # what metrics.json and the reports have met: statistic, y_true, y_pred, resamples
    "one case": (accuracy_score, _Y[:1], _P[:1], 50),
    "two cases": (accuracy_score, _Y[:2], _P[:2], 50),
    "all correct": (accuracy_score, _Y, _Y, 50),
    "one class": (accuracy_score, np.zeros(6, int), np.zeros(6, int), 50),
    "no positive case": (_sensitivity, np.zeros(6, int), np.zeros(6, int), 50),
    "rare positives, some resamples without": (_sensitivity, _Y, _P, 200),
    "no interval asked": (accuracy_score, _Y, _P, 0),
    "probabilities as y_pred": (_auroc, _Y, np.stack([1 - _P * 0.8 - 0.1, _P * 0.8 + 0.1], axis=1), 100),
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_bootstrap_interval_gives_the_numbers_it_gave_before(case):
    statistic, y, pred, resamples = DEGENERATE[case]
    ours = bootstrap_interval(statistic, y, pred, n_resamples=resamples, seed=7)
    before = _resampling_loop_reference(statistic, y, pred, resamples, seed=7)
    assert ours.keys() == before.keys()
    assert ours == pytest.approx(before, rel=1e-12) if before["lower"] is not None else ours == before
    if case == "no positive case":
        assert ours == {"value": None, "lower": None, "upper": None}
    if case in ("one case", "all correct", "one class"):
        assert ours["lower"] == ours["value"] == ours["upper"]


def test_bootstrap_interval_at_scale_is_the_loop_reference():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 3000)
    pred = np.where(rng.random(3000) < 0.9, y, 1 - y)
    ours = bootstrap_interval(accuracy_score, y, pred, n_resamples=400, seed=11)  # several SciPy batches
    assert ours == pytest.approx(_resampling_loop_reference(accuracy_score, y, pred, 400, seed=11), rel=1e-12)
