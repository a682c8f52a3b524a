"""The evaluation's figures: confusion matrix, ROC curves, reliability diagram."""

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path):
    plt = _pyplot()
    path = Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def plot_confusion_matrix(confusion, path):
    """Counts with the row-normalised share in each cell (rows = true class)."""
    plt = _pyplot()
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
    return _save(figure, path)


def plot_roc_curves(y_true, probs, classes, auc, path):
    """One-versus-rest ROC curve per class, AUC in the legend."""
    from sklearn.metrics import roc_curve

    plt = _pyplot()
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
    return _save(figure, path)


def plot_reliability(bins, ece, path):
    """Accuracy against confidence per bin, with the count of each bin."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 5))
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
    axis.set_title(f"Reliability diagram (ECE {ece:.3f})")
    axis.legend(loc="upper left")
    return _save(figure, path)
