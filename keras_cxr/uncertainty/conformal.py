"""Conformal prediction sets: every class the model cannot rule out at a chosen coverage.

Split conformal classification (Vovk et al. 2005; Angelopoulos and Bates 2021):
the non-conformity of an image for a class is
``1 - p(class)`` (hinge), calibrated on labelled images the model did not
train on (the validation split). A class enters an image's set when its
p-value is at least ``1 - coverage``; then, for a new image exchangeable with
the calibration images, the set holds the true class with probability at
least ``coverage``. An image the model is unsure about gets two or more
classes instead of being forced into one. ``class_conditional`` calibrates
each class on its own images (Mondrian), so the guarantee holds per true
class (a rare class is not under-covered to the benefit of a common one), at
the cost of larger sets for classes with few calibration images.

The p-values are the textbook ones, ``(#{calibration scores >= s} + 1) / (n + 1)``
(no smoothing), written in NumPy so that edge installs need nothing more;
``conformal_test.py`` checks them against the ``crepes`` library's.
"""

import numpy as np


def p_values(calibration_scores, scores):
    """Conformal p-value of each entry of ``scores`` against the calibration non-conformity scores."""
    ordered = np.sort(np.asarray(calibration_scores, np.float64))
    at_least = len(ordered) - np.searchsorted(ordered, np.asarray(scores, np.float64), side="left")
    return (at_least + 1.0) / (len(ordered) + 1.0)


class ConformalSets:
    """Prediction sets from calibration labels and the probabilities of their true classes.

    ``labels``: class index per calibration image; ``true_class_probability``:
    the (calibrated) probability the model gave that class. Both are stored with
    a run (``calibration.json``), so a set at any coverage can be made later.
    """

    def __init__(self, labels, true_class_probability, num_classes, class_conditional=False):
        self.labels = np.asarray(labels, int)
        self.true_class_probability = np.asarray(true_class_probability, np.float64)
        self.num_classes = int(num_classes)
        self.class_conditional = bool(class_conditional)
        if len(self.labels) == 0 or len(self.labels) != len(self.true_class_probability):
            raise ValueError("Conformal calibration needs one true-class probability per labelled image (none given)")
        if self.class_conditional:
            missing = sorted(set(range(self.num_classes)) - set(self.labels.tolist()))
            if missing:
                raise ValueError(f"Class-conditional conformal sets need calibration images of every class; "
                                 f"class index(es) {missing} have none")
        self.scores = 1.0 - self.true_class_probability  # non-conformity: hinge

    @classmethod
    def fit(cls, y_true, probs, class_conditional=False):
        """From integer labels and the (n, k) probabilities of the calibration images."""
        y_true = np.asarray(y_true, int)
        probs = np.asarray(probs, np.float64)
        return cls(y_true, probs[np.arange(len(y_true)), y_true], probs.shape[1], class_conditional)

    def predict(self, probs, coverage=0.95):
        """Boolean (n, k): True where the class is in the image's set at ``coverage``."""
        if not 0 < coverage < 1:
            raise ValueError(f"coverage must be between 0 and 1, got {coverage}")
        return self.p_values(probs) >= 1.0 - coverage

    def p_values(self, probs):
        """(n, k) p-value of each class for each image (class-conditional: against that class's scores)."""
        scores = 1.0 - np.asarray(probs, np.float64).reshape(-1, self.num_classes)
        if not self.class_conditional:
            return p_values(self.scores, scores)
        columns = [p_values(self.scores[self.labels == c], scores[:, c]) for c in range(self.num_classes)]
        return np.stack(columns, axis=1)

    def to_dict(self):
        return {"labels": self.labels.tolist(), "class_conditional": self.class_conditional,
                "true_class_probability": [round(float(p), 8) for p in self.true_class_probability],
                "num_classes": self.num_classes}

    @classmethod
    def from_dict(cls, saved):
        return cls(saved["labels"], saved["true_class_probability"], saved["num_classes"],
                   saved.get("class_conditional", False))


def set_coverage(y_true, sets):
    """Empirical coverage (share of sets holding the true class), mean set size, share of single-class sets."""
    y_true = np.asarray(y_true, int)
    sets = np.asarray(sets, bool)
    sizes = sets.sum(axis=1)
    return {"images": int(len(y_true)),
            "coverage": float(sets[np.arange(len(y_true)), y_true].mean()) if len(y_true) else None,
            "mean_set_size": float(sizes.mean()) if len(y_true) else None,
            "singletons": float((sizes == 1).mean()) if len(y_true) else None,
            "empty": float((sizes == 0).mean()) if len(y_true) else None}


def coverage_report(y_true, sets, coverage, class_conditional, classes, groups=None):
    """``set_coverage`` overall, per true class and per group (a manifest column's values)."""
    y_true = np.asarray(y_true, int)
    report = {"target_coverage": float(coverage), "class_conditional": bool(class_conditional),
              **set_coverage(y_true, sets),
              "by_class": {name: set_coverage(y_true[y_true == i], sets[y_true == i])
                           for i, name in enumerate(classes) if (y_true == i).any()}}
    if groups is not None:
        groups = np.asarray(groups)
        report["by_group"] = {str(g): set_coverage(y_true[groups == g], sets[groups == g])
                              for g in sorted(set(groups.tolist()))}
    return report


def set_names(inside, probs, classes):
    """The class names of one image's set (``inside``: its boolean row), most probable first."""
    order = np.argsort(-np.asarray(probs, np.float64), kind="stable")
    return [classes[i] for i in order if inside[i]]


def conformal_sets(calibration):
    """The :class:`ConformalSets` a ``calibration.json`` dict stores (None without one)."""
    saved = (calibration or {}).get("conformal")
    return ConformalSets.from_dict(saved) if saved else None
