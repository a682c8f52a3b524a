import keras
import numpy as np
import pytest
from sklearn import metrics as skm

from keras_cxr.evaluation import classification, summarize

CLASSES = ["COVID-19", "Normal", "Pneumonia"]
# 10 cases worked by hand: rows are (true, predicted-probabilities).
Y = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
P = np.array([
    [0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.3, 0.6, 0.1],   # COVID: 2 right, 1 called Normal
    [0.1, 0.8, 0.1], [0.2, 0.7, 0.1], [0.1, 0.4, 0.5], [0.45, 0.45, 0.10],  # Normal: 2 right (tie -> first)
    [0.1, 0.1, 0.8], [0.2, 0.2, 0.6], [0.1, 0.6, 0.3],    # Pneumonia: 2 right, 1 called Normal
])


def test_hand_computed_values():
    m = summarize(Y, P, CLASSES, positive_class="COVID-19", bootstrap_resamples=50)
    pred = P.argmax(axis=1)  # [0,0,1, 1,1,2,0, 2,2,1]
    assert list(pred) == [0, 0, 1, 1, 1, 2, 0, 2, 2, 1]
    assert m["accuracy"] == pytest.approx(6 / 10)
    covid = m["per_class"]["COVID-19"]
    assert covid["precision"] == pytest.approx(2 / 3)      # predicted COVID: cases 0, 1, 6
    assert covid["recall"] == pytest.approx(2 / 3)
    assert covid["specificity"] == pytest.approx(6 / 7)    # 7 non-COVID, 1 called COVID
    assert covid["support"] == 3
    assert m["per_class"]["Normal"]["precision"] == pytest.approx(2 / 4)
    assert m["confusion_matrix"]["counts"] == [[2, 1, 0], [1, 2, 1], [0, 1, 2]]
    assert m["confusion_matrix"]["normalized"][1] == pytest.approx([0.25, 0.5, 0.25])
    assert m["positive_vs_rest"] == pytest.approx({"accuracy": 0.8, "precision": 2 / 3, "recall": 2 / 3,
                                                   "f1": 2 / 3})
    # Mean probability of the true class for COVID: (0.9 + 0.6 + 0.3) / 3.
    assert m["true_class_probability"]["COVID-19"]["mean"] == pytest.approx(0.6)


def test_values_equal_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet(np.ones(3), 200)
    m = summarize(y, p, CLASSES, bootstrap_resamples=20)
    pred = p.argmax(axis=1)
    assert m["average"]["macro"]["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["average"]["weighted"]["precision"] == pytest.approx(skm.precision_score(y, pred, average="weighted"))
    for i, name in enumerate(CLASSES):
        assert m["roc_auc"]["per_class"][name] == pytest.approx(skm.roc_auc_score(y == i, p[:, i]))
    assert m["roc_auc"]["macro"] == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))


def test_keras_micro_precision_recall_match_keras_metrics():
    onehot = np.eye(3)[Y]
    precision, recall = keras.metrics.Precision(), keras.metrics.Recall()
    precision.update_state(onehot, P)
    recall.update_state(onehot, P)
    ours = classification.keras_micro_precision_recall(Y, P)
    assert ours["precision"] == pytest.approx(float(precision.result()))
    assert ours["recall"] == pytest.approx(float(recall.result()))
    assert ours["precision"] != pytest.approx(0.6)  # not simply accuracy


def test_undefined_auc_and_bad_positive_class():
    m = summarize(np.zeros(4, int), np.tile([0.7, 0.2, 0.1], (4, 1)), CLASSES, bootstrap_resamples=10)
    assert m["roc_auc"]["per_class"]["COVID-19"] is None and m["roc_auc"]["macro"] is None
    with pytest.raises(ValueError, match="Positive class"):
        summarize(Y, P, CLASSES, positive_class="Flu")
