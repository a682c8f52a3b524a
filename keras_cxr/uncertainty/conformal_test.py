import numpy as np
import pytest

from keras_cxr.uncertainty.conformal import ConformalSets, coverage_report, set_coverage, set_names

K = 4


def _model_outputs(n, rng, hard_class=None):
    """Probabilities and labels drawn from them: a calibrated model; ``hard_class`` is seen only vaguely."""
    labels = rng.integers(0, K, n)
    concentration = np.full((n, K), 0.6)
    concentration[np.arange(n), labels] += 3.0
    if hard_class is not None:
        concentration[labels == hard_class, hard_class] -= 2.8  # the model barely points at it
    probs = np.stack([rng.dirichlet(c) for c in concentration])
    return labels, probs


def test_split_conformal_coverage_holds_over_many_calibration_draws():
    rng = np.random.default_rng(0)
    coverages, sizes = [], []
    for _ in range(30):
        cal_y, cal_p = _model_outputs(300, rng)
        test_y, test_p = _model_outputs(2000, rng)
        sets = ConformalSets.fit(cal_y, cal_p).predict(test_p, 0.9)
        result = set_coverage(test_y, sets)
        coverages.append(result["coverage"])
        sizes.append(result["mean_set_size"])
    # Guarantee: E[coverage] >= 0.9 (and at most 0.9 + 1/(n+1) for continuous scores).
    assert 0.9 <= np.mean(coverages) <= 0.9 + 1 / 301 + 0.005
    assert 1.0 < np.mean(sizes) < K  # informative: neither single classes only nor everything


def test_class_conditional_sets_cover_a_hard_class_that_marginal_sets_miss():
    rng = np.random.default_rng(1)
    cal_y, cal_p = _model_outputs(6000, rng, hard_class=3)
    test_y, test_p = _model_outputs(8000, rng, hard_class=3)
    classes = ["a", "b", "c", "hard"]
    marginal = coverage_report(test_y, ConformalSets.fit(cal_y, cal_p).predict(test_p, 0.9), 0.9, False, classes)
    per_class = coverage_report(test_y, ConformalSets.fit(cal_y, cal_p, class_conditional=True).predict(test_p, 0.9),
                                0.9, True, classes)
    assert marginal["coverage"] >= 0.89 and marginal["by_class"]["hard"]["coverage"] < 0.75
    # Each class is covered (within the sampling noise of ~1,500 calibration and ~2,000 test images per class).
    assert all(v["coverage"] >= 0.865 for v in per_class["by_class"].values())


def test_sets_grow_with_coverage_and_round_trip_through_json():
    rng = np.random.default_rng(2)
    cal_y, cal_p = _model_outputs(200, rng)
    test_y, test_p = _model_outputs(300, rng)
    sets = ConformalSets.fit(cal_y, cal_p)
    small, large = sets.predict(test_p, 0.8), sets.predict(test_p, 0.99)
    assert (small <= large).all() and large.sum() > small.sum()
    restored = ConformalSets.from_dict(sets.to_dict())
    assert np.array_equal(restored.predict(test_p, 0.8), small)


def test_groups_and_names():
    y = np.array([0, 1, 1, 2])
    sets = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 0, 1]], bool)
    report = coverage_report(y, sets, 0.9, False, ["x", "y", "z"], groups=["A", "A", "B", "B"])
    assert report["coverage"] == 0.75 and report["mean_set_size"] == 1.25
    assert report["by_group"]["A"]["coverage"] == 1.0 and report["by_group"]["B"]["coverage"] == 0.5
    assert set_names(sets[1], [0.3, 0.6, 0.1], ["x", "y", "z"]) == ["y", "x"]


def test_class_conditional_needs_every_class():
    with pytest.raises(ValueError, match=r"class index\(es\) \[2\]"):
        ConformalSets.fit([0, 1, 0], np.full((3, 3), 1 / 3), class_conditional=True)


@pytest.mark.parametrize("class_conditional", [False, True])
def test_sets_equal_the_crepes_library(class_conditional):
    crepes = pytest.importorskip("crepes")
    rng = np.random.default_rng(3)
    cal_y, cal_p = _model_outputs(300, rng)
    _, test_p = _model_outputs(200, rng)
    cal_p[:20] = np.round(cal_p[:20], 1)  # ties between calibration and test scores
    test_p[:20] = cal_p[:20]
    ours = ConformalSets.fit(cal_y, cal_p, class_conditional).predict(test_p, 0.9)
    reference = crepes.ConformalClassifier().fit(1 - cal_p[np.arange(300), cal_y],
                                                 bins=cal_y if class_conditional else None)
    if class_conditional:
        theirs = np.stack([reference.predict_set(1 - test_p, bins=np.full(200, c), confidence=0.9,
                                                 smoothing=False)[:, c] for c in range(K)], axis=1)
    else:
        theirs = reference.predict_set(1 - test_p, confidence=0.9, smoothing=False)
    assert np.array_equal(ours, theirs.astype(bool))
