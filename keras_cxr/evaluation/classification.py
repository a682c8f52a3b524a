"""Classification metrics the papers report, computed with scikit-learn.

Each function takes integer labels ``y_true`` (n,) and probabilities
``probs`` (n, k) and returns plain Python numbers, so results serialise to JSON.
"""

import numpy as np
from sklearn import metrics as skm


def per_class_metrics(y_true, y_pred, classes):
    """Precision, recall (sensitivity), specificity, F1 and support for every class."""
    labels = np.arange(len(classes))
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    matrix = skm.confusion_matrix(y_true, y_pred, labels=labels)
    total = matrix.sum()
    result = {}
    for i, name in enumerate(classes):
        tp = matrix[i, i]
        fp = matrix[:, i].sum() - tp
        fn = matrix[i, :].sum() - tp
        tn = total - tp - fp - fn
        result[name] = {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "specificity": float(tn / (tn + fp)) if (tn + fp) else 0.0,
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
    return result


def averaged_metrics(y_true, y_pred, classes):
    """Macro and weighted precision, recall and F1."""
    labels = np.arange(len(classes))
    out = {}
    for average in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                         zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f)}
    return out


def keras_micro_precision_recall(y_true, probs, threshold=0.5):
    """Micro-averaged precision/recall over one-hot labels at a 0.5 threshold.

    This is what ``keras.metrics.Precision()`` / ``Recall()`` report on softmax
    outputs, the numbers Zhong 2020 quotes (section 4) (89.67% / 84.46% beside 87.3% accuracy).
    """
    k = probs.shape[1]
    onehot = np.eye(k, dtype=int)[y_true]
    predicted = (probs > threshold).astype(int)
    return {
        "precision": float(skm.precision_score(onehot, predicted, average="micro", zero_division=0)),
        "recall": float(skm.recall_score(onehot, predicted, average="micro", zero_division=0)),
    }


def positive_vs_rest(y_true, y_pred, positive_index):
    """Accuracy, precision, recall and F1 with one class positive and the rest negative (Cheng et al., DPN-SENet, Table 1)."""
    truth = np.asarray(y_true) == positive_index
    guess = np.asarray(y_pred) == positive_index
    return {
        "accuracy": float(skm.accuracy_score(truth, guess)),
        "precision": float(skm.precision_score(truth, guess, zero_division=0)),
        "recall": float(skm.recall_score(truth, guess, zero_division=0)),
        "f1": float(skm.f1_score(truth, guess, zero_division=0)),
    }


def roc_auc_one_vs_rest(y_true, probs, classes):
    """ROC-AUC of each class against the rest, and their macro mean (None where undefined)."""
    per_class = {}
    for i, name in enumerate(classes):
        truth = np.asarray(y_true) == i
        per_class[name] = float(skm.roc_auc_score(truth, probs[:, i])) if 0 < truth.sum() < len(truth) else None
    defined = [v for v in per_class.values() if v is not None]
    return {"per_class": per_class, "macro": float(np.mean(defined)) if defined else None}


def confusion(y_true, y_pred, classes):
    """Counts (rows = true class, columns = predicted) and the row-normalised matrix."""
    counts = skm.confusion_matrix(y_true, y_pred, labels=np.arange(len(classes)))
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros(counts.shape, float), where=rows > 0)
    return {"labels": list(classes), "counts": counts.tolist(), "normalized": normalised.round(6).tolist()}
