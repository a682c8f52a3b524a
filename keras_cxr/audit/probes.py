"""Do the model's features encode the site? A linear probe on its pooled features (scikit-learn).

A classifier that has learned a hospital's scanner, markers or patient age
carries that in the features its last layer reads (DeGrave et al. 2021). A
logistic regression trained on those features to predict the image's source
(or population) measures it: AUROC near 0.5, the features say nothing about
the site; near 1, they encode it. In public CXR sets the site is tied to the
label, so a model that encodes the label encodes the site too: the probe is
evidence to read beside the occlusion tests, not a verdict by itself.
"""

import numpy as np

# Groups with fewer images are left out of the probe (too few to hold out in every fold).
MIN_GROUP_IMAGES = 5
FOLDS = 5


def classifier_dense(model):
    """The model's last Dense layer: the classifier whose input is the pooled feature vector."""
    import keras

    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Dense):
            return layer
    raise ValueError(f"{model.name} has no Dense classifier layer whose input could be probed")


def pooled_features(model, images, batch_size=32):
    """The vectors the classifier head reads (the input of :func:`classifier_dense`) for float ``images``."""
    import keras

    features = keras.Model(model.inputs, classifier_dense(model).input)
    return np.asarray(features.predict(np.asarray(images, np.float32), verbose=0, batch_size=batch_size))


def auroc(y_true, scores):
    """Binary AUROC, or macro one-vs-rest for more groups; ``None`` where a resample lacks a group."""
    from sklearn.metrics import roc_auc_score

    y_true, scores = np.asarray(y_true), np.asarray(scores)
    n_groups = scores.shape[1]
    if len(np.unique(y_true)) < n_groups:
        return None
    if n_groups == 2:
        return float(roc_auc_score(y_true, scores[:, 1]))
    return float(roc_auc_score(y_true, scores, multi_class="ovr", average="macro", labels=list(range(n_groups))))


def probe_auroc(features, groups, column, patients=None, seed=0, resamples=1000):
    """Cross-validated AUROC of a logistic regression predicting ``groups`` from ``features``.

    Out-of-fold probabilities (folds stratified by group and, given
    ``patients``, keeping each patient's images in one fold, so the probe
    cannot recognise a patient), AUROC with a 95% bootstrap interval. Returns
    a dict with ``skipped`` (the reason) instead where the groups are too few.
    """
    groups = np.asarray(["(missing)" if g in (None, "") else str(g) for g in groups])
    names, counts = np.unique(groups, return_counts=True)
    kept = [str(n) for n, c in zip(names, counts) if c >= MIN_GROUP_IMAGES]
    result = {"column": column, "groups": {str(n): int(c) for n, c in zip(names, counts)},
              "left_out": sorted(set(map(str, names)) - set(kept)), "auroc": None, "skipped": None}
    if len(kept) < 2:
        result["skipped"] = (f"fewer than 2 {column} groups with at least {MIN_GROUP_IMAGES} images "
                             f"({result['groups']})")
        return result
    chosen = np.isin(groups, kept)
    y = np.searchsorted(np.asarray(kept), groups[chosen])
    split_groups = None if patients is None else np.asarray(patients)[chosen]
    try:
        scores, folds = _out_of_fold(np.asarray(features)[chosen], y, split_groups, seed)
    except ValueError as error:  # e.g. a fold whose training part holds a single group
        result["skipped"] = f"the probe could not be cross-validated: {error}"
        return result
    from keras_cxr.evaluation.confidence import bootstrap_interval

    result.update(auroc=bootstrap_interval(auroc, y, scores, n_resamples=resamples, seed=seed),
                  images=int(chosen.sum()), folds=folds, grouped_by_patient=split_groups is not None)
    return result


def _out_of_fold(features, y, patients, seed):
    """Out-of-fold probabilities of standardised features -> logistic regression, and the number of folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    per_group = np.bincount(y) if patients is None else [len(set(patients[y == k])) for k in range(y.max() + 1)]
    folds = int(min(FOLDS, *per_group))
    if folds < 2:
        raise ValueError("a group has fewer than 2 patients")
    if patients is None:
        splitter, kwargs = StratifiedKFold(folds, shuffle=True, random_state=seed), {}
    else:
        splitter, kwargs = StratifiedGroupKFold(folds, shuffle=True, random_state=seed), {"groups": patients}
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_predict(probe, features, y, cv=splitter, method="predict_proba", **kwargs)
    return scores, folds
