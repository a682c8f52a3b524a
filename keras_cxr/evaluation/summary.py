"""Every metric of an evaluation in one JSON-ready dict."""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from keras_cxr.evaluation import calibration, classification, confidence


def summarize(y_true, probs, classes, positive_class=None, bootstrap_resamples=1000, seed=0):
    """Metrics of ``probs`` (n, k) against integer labels ``y_true``; see the keys below."""
    y_true = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(y_true) == 0:
        raise ValueError("No predictions to evaluate")
    y_pred = probs.argmax(axis=1)
    if positive_class is not None and positive_class not in classes:
        raise ValueError(f"Positive class {positive_class!r} is not one of {classes}")
    positive = classes.index(positive_class) if positive_class else None
    labels = np.arange(len(classes))

    def macro_f1(t, p):
        return f1_score(t, p, labels=labels, average="macro", zero_division=0)

    result = {
        "num_images": int(len(y_true)),
        "classes": list(classes),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": classification.per_class_metrics(y_true, y_pred, classes),
        "average": classification.averaged_metrics(y_true, y_pred, classes),
        "keras_micro": classification.keras_micro_precision_recall(y_true, probs),
        "roc_auc": classification.roc_auc_one_vs_rest(y_true, probs, classes),
        "confusion_matrix": classification.confusion(y_true, y_pred, classes),
        "true_class_probability": confidence.true_class_probability(y_true, probs, classes),
        "calibration": {
            "ece": calibration.expected_calibration_error(y_true, probs),
            "bins": calibration.reliability_bins(y_true, probs),
        },
        "bootstrap_95ci": {
            "accuracy": confidence.bootstrap_interval(accuracy_score, y_true, y_pred, bootstrap_resamples, seed=seed),
            "macro_f1": confidence.bootstrap_interval(macro_f1, y_true, y_pred, bootstrap_resamples, seed=seed),
        },
    }
    if positive is not None:
        result["positive_class"] = positive_class
        result["positive_vs_rest"] = classification.positive_vs_rest(y_true, y_pred, positive)

        def sensitivity(t, p):
            truth = t == positive
            return recall_score(truth, p == positive, zero_division=0) if truth.any() else None

        result["bootstrap_95ci"]["positive_sensitivity"] = confidence.bootstrap_interval(
            sensitivity, y_true, y_pred, bootstrap_resamples, seed=seed)
    return result
