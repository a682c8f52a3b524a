"""Pictures of explanations: one overlay per image and a gallery per folder."""

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_overlay(image, heatmap, path, title, mask=None, alpha=0.45):
    """The X-ray beside the X-ray with the map over it (colour bar), titled with the prediction."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(8.4, 4.4))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("X-ray", fontsize=9)
    axes[1].imshow(image, cmap="gray", vmin=0, vmax=1)
    shown = axes[1].imshow(heatmap, cmap="jet", alpha=alpha, vmin=0, vmax=1)
    if mask is not None and np.any(mask):
        axes[1].contour(np.asarray(mask, float), levels=[0.5], colors="white", linewidths=1)
    figure.colorbar(shown, ax=axes[1], fraction=0.046, pad=0.03, label="importance")
    axes[1].set_title("explanation" + (" (white: lesion mask)" if mask is not None and np.any(mask) else ""),
                      fontsize=9)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return Path(path)


def save_gallery(items, path, columns=4):
    """A grid of (image, heatmap, caption) overlays in one PNG."""
    plt = _pyplot()
    rows = max(1, int(np.ceil(len(items) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (image, heatmap, caption) in zip(axes.ravel(), items):
        axis.imshow(image, cmap="gray", vmin=0, vmax=1)
        axis.imshow(heatmap, cmap="jet", alpha=0.45, vmin=0, vmax=1)
        axis.set_title(caption, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return Path(path)
