"""Parity figures of an export against Keras: agreement, probability gaps, margins of changed decisions."""

import numpy as np
import pytest

from keras_cxr.export.parity import decision_margins, parity

KERAS = np.array([[0.90, 0.05, 0.05], [0.40, 0.35, 0.25], [0.10, 0.20, 0.70], [0.30, 0.60, 0.10]])


def test_decision_margins_are_top1_minus_top2():
    np.testing.assert_allclose(decision_margins(KERAS), [0.85, 0.05, 0.50, 0.30])


def test_changed_decisions_report_their_largest_keras_margin():
    export = KERAS.copy()
    export[1] = [0.34, 0.36, 0.30]  # a hair's-breadth decision changed
    export[3] = [0.30, 0.30, 0.40]  # a firmer one changed
    figures = parity(KERAS, export)
    assert figures["top1_agreement"] == 0.5
    assert figures["largest_changed_margin"] == pytest.approx(0.30)
    assert figures["max_abs_prob_diff"] == pytest.approx(0.30)


def test_no_changed_decision_has_margin_zero_and_labels_add_metric_deltas():
    figures = parity(KERAS, KERAS + 0.001, labels=[0, 1, 2, None], classes=["a", "b", "c"])
    assert figures["top1_agreement"] == 1.0 and figures["largest_changed_margin"] == 0.0
    assert figures["labelled_images"] == 3
    assert figures["accuracy"] == {"keras": pytest.approx(2 / 3), "export": pytest.approx(2 / 3),
                                   "delta": pytest.approx(0.0)}
