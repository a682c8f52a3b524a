"""Metrics per group of images (population, source, site, sex: any manifest column).

On public CXR sets the class often equals the source (pediatric pneumonia from
one hospital, adult COVID-19 from others), so a model can score well by telling
children from adults or one hospital from another (DeGrave et al. 2021). An
overall accuracy hides this; the same metrics per group, with intervals, show it.
"""

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from keras_cxr.evaluation.confidence import bootstrap_interval

MISSING = "(missing)"


def group_metrics(y_true, y_pred, groups, classes, positive_class=None, bootstrap_resamples=1000, seed=0):
    """``{group: {"num_images", "class_counts", "accuracy", "macro_f1", "recall"[, "positive_sensitivity"]}}``.

    ``accuracy``, ``macro_f1`` and ``positive_sensitivity`` are bootstrap intervals
    (``{"value", "lower", "upper"}``); macro-F1 averages the classes present in the
    group; ``recall`` is per class present.
    """
    y_true, y_pred = np.asarray(y_true, int), np.asarray(y_pred, int)
    groups = np.asarray([g if g not in (None, "") else MISSING for g in groups], dtype=object)
    if not len(groups) == len(y_true) == len(y_pred):
        raise ValueError(f"{len(groups)} group values for {len(y_true)} images")
    positive = classes.index(positive_class) if positive_class is not None else None
    result = {}
    for group in sorted(set(groups), key=str):
        index = groups == group
        truth, pred = y_true[index], y_pred[index]
        present = sorted(set(truth.tolist()))

        def macro_f1(t, p, labels=present):
            return f1_score(t, p, labels=labels, average="macro", zero_division=0)

        entry = {
            "num_images": int(index.sum()),
            "class_counts": {classes[c]: int((truth == c).sum()) for c in present},
            "accuracy": bootstrap_interval(accuracy_score, truth, pred, bootstrap_resamples, seed=seed),
            "macro_f1": bootstrap_interval(macro_f1, truth, pred, bootstrap_resamples, seed=seed),
            "recall": {classes[c]: float(((pred == c) & (truth == c)).sum() / (truth == c).sum()) for c in present},
        }
        if positive is not None and positive in present:

            def sensitivity(t, p):
                hit = t == positive
                return recall_score(hit, p == positive, zero_division=0) if hit.any() else None

            entry["positive_sensitivity"] = bootstrap_interval(sensitivity, truth, pred, bootstrap_resamples,
                                                               seed=seed)
        result[str(group)] = entry
    return result


def group_values(manifest, column):
    """The ``column`` value of every manifest row; an unknown column names the columns there are."""
    if column not in manifest.columns:
        raise ValueError(f"--group-by {column!r} is not a column of the data; its columns: {manifest.columns}")
    return [record.get(column, "") for record in manifest.records]
