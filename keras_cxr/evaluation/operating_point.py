"""Operating points: a decision threshold chosen on validation images, judged on test images.

A screening tool is used at a threshold, not as an AUC. The threshold that
reaches a target sensitivity for the positive class (e.g. 0.95 for COVID-19)
must be chosen on the validation split: chosen on the test split, the test
figures at that threshold are optimistic by construction. Predictive values
depend on how common the disease is where the tool is used, so PPV and NPV
are also given at user-supplied prevalences (Bayes' rule), not only at the
test set's own class mix.
"""

import numpy as np

from keras_cxr.evaluation.confidence import bootstrap_interval


def threshold_for_sensitivity(positive, scores, target):
    """The highest threshold whose sensitivity (share of positives with score >= threshold) is >= ``target``.

    ``positive``: booleans (is the image of the positive class); ``scores``:
    the positive class's probability.
    """
    positive, scores = np.asarray(positive, bool), np.asarray(scores, float)
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    if not positive.any():
        raise ValueError("no positive images to choose a threshold on")
    ranked = np.sort(scores[positive])[::-1]
    needed = int(np.ceil(target * len(ranked) - 1e-9))  # positives that must score >= threshold
    return float(ranked[max(needed, 1) - 1])


def binary_metrics(positive, scores, threshold):
    """Sensitivity, specificity, PPV and NPV at ``threshold`` (None where undefined), with the four counts."""
    positive, called = np.asarray(positive, bool), np.asarray(scores, float) >= threshold
    tp, fn = int(np.sum(called & positive)), int(np.sum(~called & positive))
    fp, tn = int(np.sum(called & ~positive)), int(np.sum(~called & ~positive))

    def ratio(a, b):
        return a / (a + b) if a + b else None

    return {"sensitivity": ratio(tp, fn), "specificity": ratio(tn, fp), "ppv": ratio(tp, fp), "npv": ratio(tn, fn),
            "tp": tp, "fn": fn, "fp": fp, "tn": tn}


def predictive_values_at(sensitivity, specificity, prevalence):
    """PPV and NPV where the disease has ``prevalence`` (Bayes' rule)."""
    if not 0.0 < prevalence < 1.0:
        raise ValueError(f"prevalence must be in (0, 1), got {prevalence}")
    true_pos, false_pos = sensitivity * prevalence, (1 - specificity) * (1 - prevalence)
    true_neg, false_neg = specificity * (1 - prevalence), (1 - sensitivity) * prevalence
    ppv = true_pos / (true_pos + false_pos) if true_pos + false_pos else None
    npv = true_neg / (true_neg + false_neg) if true_neg + false_neg else None
    return {"prevalence": prevalence, "ppv": ppv, "npv": npv}


def operating_point(val_positive, val_scores, test_positive, test_scores, target_sensitivity, prevalences=(),
                    n_resamples=1000, seed=0):
    """The threshold from the validation images, and the test images' figures at it with bootstrap intervals."""
    threshold = threshold_for_sensitivity(val_positive, val_scores, target_sensitivity)
    test_positive, test_scores = np.asarray(test_positive, bool), np.asarray(test_scores, float)
    point = binary_metrics(test_positive, test_scores, threshold)
    figures = {}
    for name in ("sensitivity", "specificity", "ppv", "npv"):
        figures[name] = bootstrap_interval(lambda y, s, key=name: binary_metrics(y, s, threshold)[key],
                                           test_positive, test_scores, n_resamples=n_resamples, seed=seed)
    at_prevalence = []
    if point["sensitivity"] is not None and point["specificity"] is not None:
        at_prevalence = [predictive_values_at(point["sensitivity"], point["specificity"], p) for p in prevalences]
    return {"target_sensitivity": target_sensitivity, "threshold": threshold, "chosen_on": "validation",
            "validation_sensitivity": binary_metrics(val_positive, val_scores, threshold)["sensitivity"],
            "test": figures, "test_counts": {k: point[k] for k in ("tp", "fn", "fp", "tn")},
            "at_prevalence": at_prevalence}


def describe_operating_point(result, positive_class):
    """Lines for the console and report.md: threshold, test figures with intervals, PPV at prevalences."""
    def figure(name):
        entry = result["test"][name]
        if entry["value"] is None:
            return f"{name} -"
        interval = (f" ({entry['lower']:.1%}-{entry['upper']:.1%})" if entry.get("lower") is not None else "")
        return f"{name} {entry['value']:.1%}{interval}"

    lines = [f"{positive_class} at sensitivity >= {result['target_sensitivity']:.0%} on the val split "
             f"({result['validation_images']} images): threshold {result['threshold']:.4f}; on the evaluated split: "
             + ", ".join(figure(name) for name in ("sensitivity", "specificity", "ppv", "npv"))]
    lines += [f"  at prevalence {p['prevalence']:.1%}: PPV {p['ppv']:.1%}, NPV {p['npv']:.1%}"
              for p in result["at_prevalence"] if p["ppv"] is not None and p["npv"] is not None]
    return "\n".join(lines)
