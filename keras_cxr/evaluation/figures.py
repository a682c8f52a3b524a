"""The evaluation's figures: confusion matrix, ROC curves, reliability diagram."""


import numpy as np

from keras_cxr.utils.plotting import pyplot, save_figure


def plot_confusion_matrix(confusion, path):
    """Counts with the row-normalised share in each cell (rows = true class)."""
    plt = pyplot()
    counts = np.asarray(confusion["counts"])
    share = np.asarray(confusion["normalized"])
    labels = confusion["labels"]
    size = 1.2 + 1.1 * len(labels)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of true class")
    axis.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            axis.text(j, i, f"{counts[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                      color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    return save_figure(figure, path)


def plot_roc_curves(y_true, probs, classes, auc, path):
    """One-versus-rest ROC curve per class, AUC in the legend."""
    from sklearn.metrics import roc_curve

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 5))
    for i, name in enumerate(classes):
        truth = np.asarray(y_true) == i
        if 0 < truth.sum() < len(truth):
            fpr, tpr, _ = roc_curve(truth, probs[:, i])
            axis.plot(fpr, tpr, label=f"{name} (AUC {auc['per_class'][name]:.3f})")
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8)
    axis.set_xlabel("1 - specificity")
    axis.set_ylabel("sensitivity")
    axis.set_title("ROC, one class versus the rest")
    axis.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)


def plot_reliability(bins, ece, path):
    """Accuracy against confidence per bin, with the count of each bin."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 5))
    _draw_reliability(axis, bins, f"Reliability diagram (ECE {ece:.3f})")
    return save_figure(figure, path)


def plot_reliability_before_after(before, after, temperature, path):
    """Two reliability diagrams side by side: the model's probabilities, then after temperature scaling.

    ``before``/``after``: ``{"bins": ..., "ece": ...}`` as :func:`summarize` writes them.
    """
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 5), sharey=True)
    _draw_reliability(axes[0], before["bins"], f"Uncalibrated (ECE {before['ece']:.3f})")
    _draw_reliability(axes[1], after["bins"], f"Temperature {temperature:.2f} (ECE {after['ece']:.3f})")
    return save_figure(figure, path)


def _draw_reliability(axis, bins, title):
    width = bins[0]["upper"] - bins[0]["lower"]
    centres = [b["lower"] + width / 2 for b in bins]
    accuracy = [b["accuracy"] or 0.0 for b in bins]
    axis.bar(centres, accuracy, width=width * 0.95, edgecolor="black", alpha=0.7, label="accuracy")
    axis.plot([0, 1], [0, 1], "k--", linewidth=0.8, label="perfect calibration")
    for centre, b in zip(centres, bins):
        if b["count"]:
            axis.text(centre, (b["accuracy"] or 0) + 0.02, str(b["count"]), ha="center", fontsize=7)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1.08)
    axis.set_xlabel("confidence (top-1 probability)")
    axis.set_ylabel("accuracy")
    axis.set_title(title)
    axis.legend(loc="upper left")


def plot_group_metrics(by_group, column, path):
    """Accuracy (and positive-class sensitivity) per group with 95% bootstrap intervals, n in the labels."""
    plt = pyplot()
    names = list(by_group)
    series = [("accuracy", "accuracy")]
    if any("positive_sensitivity" in v for v in by_group.values()):
        series.append(("positive_sensitivity", "positive-class sensitivity"))
    height = 0.8 / len(series)
    figure, axis = plt.subplots(figsize=(6.5, 1.2 + 0.55 * len(names) * len(series)))
    for k, (key, label) in enumerate(series):
        rows = [(i, by_group[n][key]) for i, n in enumerate(names) if key in by_group[n]]
        positions = [i + k * height for i, _ in rows]
        values = [v["value"] for _, v in rows]
        errors = [[v["value"] - (v["lower"] if v["lower"] is not None else v["value"]) for _, v in rows],
                  [(v["upper"] if v["upper"] is not None else v["value"]) - v["value"] for _, v in rows]]
        axis.barh(positions, values, height=height * 0.9, xerr=errors, capsize=3, label=label, alpha=0.8)
    axis.set_yticks([i + (len(series) - 1) * height / 2 for i in range(len(names))],
                    [f"{n} (n={by_group[n]['num_images']})" for n in names])
    axis.invert_yaxis()
    axis.set_xlim(0, 1.05)
    axis.set_xlabel("value (95% bootstrap interval)")
    axis.set_title(f"Metrics by {column}")
    axis.legend(loc="lower right", fontsize=8)
    return save_figure(figure, path)
