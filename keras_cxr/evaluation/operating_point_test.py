"""Operating points: threshold from validation only, test figures at it, predictive values at a prevalence."""

import numpy as np
import pytest

from keras_cxr.evaluation.operating_point import (binary_metrics, operating_point, predictive_values_at,
                                                  threshold_for_sensitivity)


def test_threshold_is_the_highest_reaching_the_target_sensitivity():
    positive = [True] * 10 + [False] * 5
    scores = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2] + [0.1] * 5
    assert threshold_for_sensitivity(positive, scores, 0.9) == 0.3  # 9 of 10 positives at >= 0.3
    assert threshold_for_sensitivity(positive, scores, 1.0) == 0.2
    assert threshold_for_sensitivity(positive, scores, 0.5) == 0.7
    assert binary_metrics(positive, scores, 0.3)["sensitivity"] == 0.9
    with pytest.raises(ValueError, match="no positive"):
        threshold_for_sensitivity([False, False], [0.1, 0.2], 0.9)


def test_binary_metrics_and_bayes_predictive_values():
    figures = binary_metrics([True, True, False, False, False], [0.9, 0.2, 0.8, 0.1, 0.3], 0.5)
    assert (figures["tp"], figures["fn"], figures["fp"], figures["tn"]) == (1, 1, 1, 2)
    assert figures["sensitivity"] == 0.5 and figures["specificity"] == pytest.approx(2 / 3)
    assert figures["ppv"] == 0.5 and figures["npv"] == pytest.approx(2 / 3)
    rare = predictive_values_at(0.95, 0.9, 0.02)  # a screening test where 2% have the disease
    assert rare["ppv"] == pytest.approx(0.95 * 0.02 / (0.95 * 0.02 + 0.1 * 0.98))
    assert rare["npv"] == pytest.approx(0.9 * 0.98 / (0.9 * 0.98 + 0.05 * 0.02))


def test_threshold_comes_from_validation_and_test_figures_have_intervals():
    rng = np.random.default_rng(0)

    def split(n):
        positive = rng.random(n) < 0.3
        return positive, np.clip(np.where(positive, 0.7, 0.35) + rng.normal(0, 0.15, n), 0, 1)

    val, test = split(300), split(300)
    result = operating_point(*val, *test, target_sensitivity=0.95, prevalences=[0.02, 0.1], n_resamples=200)
    assert result["threshold"] == threshold_for_sensitivity(*val, 0.95)
    assert result["chosen_on"] == "validation" and result["validation_sensitivity"] >= 0.95
    # A different test split leaves the threshold where validation put it.
    other = operating_point(*val, *split(300), target_sensitivity=0.95, n_resamples=50)
    assert other["threshold"] == result["threshold"]
    sensitivity = result["test"]["sensitivity"]
    assert sensitivity["lower"] <= sensitivity["value"] <= sensitivity["upper"] and sensitivity["value"] > 0.85
    counts = result["test_counts"]
    assert sum(counts.values()) == 300 and sensitivity["value"] == counts["tp"] / (counts["tp"] + counts["fn"])
    low, high = result["at_prevalence"]
    assert low["prevalence"] == 0.02 and low["ppv"] < high["ppv"]  # rarer disease, more false alarms per hit
