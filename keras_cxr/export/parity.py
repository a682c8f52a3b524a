"""Does the export compute what the Keras model computes? Top-1 agreement, probability gaps, metric deltas."""

import numpy as np


def parity(reference_probs, export_probs, labels=None, classes=None):
    """Agreement of two (N, k) probability arrays; with ``labels`` also accuracy and macro AUC of each.

    ``labels``: per image, the index of its true class or None (unlabelled).
    Agreement alone does not say whether quantisation costs accuracy (a
    changed decision may be a wrong one corrected), so the report carries
    each side's accuracy and macro one-vs-rest AUC on the labelled images and
    the export's change (export minus Keras).
    """
    reference_probs = np.asarray(reference_probs, float)
    export_probs = np.asarray(export_probs, float)
    changed = reference_probs.argmax(axis=1) != export_probs.argmax(axis=1)
    figures = {"images": int(len(reference_probs)), "top1_agreement": float(np.mean(~changed)),
               "max_abs_prob_diff": float(np.abs(reference_probs - export_probs).max()),
               "largest_changed_margin": float(decision_margins(reference_probs)[changed].max(initial=0.0))}
    if labels is not None:
        figures.update(labelled_metrics(reference_probs, export_probs, labels, classes))
    return figures


def decision_margins(probs):
    """Per image, top-1 minus top-2 probability: how firmly the model decided.

    An int8 model changes decisions the float model made by a hair (its
    rounding moves probabilities by a few hundredths); ``largest_changed_margin``
    in the report, the largest margin among changed decisions, says whether it
    also changes firm ones.
    """
    top2 = np.sort(np.asarray(probs, float), axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def labelled_metrics(reference_probs, export_probs, labels, classes=None):
    """``labelled_images`` and ``{"keras", "export", "delta"}`` for ``accuracy`` and ``macro_auc``."""
    from keras_cxr.evaluation.classification import roc_auc_one_vs_rest

    known = np.array([label is not None for label in labels], bool)
    y = np.array([label for label in labels if label is not None], int)
    classes = classes or [str(i) for i in range(reference_probs.shape[1])]
    result = {"labelled_images": int(known.sum())}
    for key, metric in (("accuracy", lambda p: float(np.mean(p.argmax(axis=1) == y))),
                        ("macro_auc", lambda p: roc_auc_one_vs_rest(y, p, classes)["macro"])):
        keras_value, export_value = (metric(p[known]) if known.any() else None
                                     for p in (reference_probs, export_probs))
        delta = export_value - keras_value if None not in (keras_value, export_value) else None
        result[key] = {"keras": keras_value, "export": export_value, "delta": delta}
    return result
