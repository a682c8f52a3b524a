"""Pictures of explanations: one overlay per image and a gallery per folder.

Neither picture needs full resolution: an overlay panel is about 350 px wide
and a gallery cell 270 px, so overlays draw a view of at most
:data:`OVERLAY_PX` and galleries keep :func:`thumbnail` copies of at most
:data:`THUMBNAIL_PX`. That is what lets ``explain`` keep 48 gallery items
while streaming thousands of 1024 px X-rays, and it makes each overlay
cheaper to draw. The raw ``.npy`` maps stay at the image's full size.
"""

from pathlib import Path

import numpy as np

from keras_cxr.utils.plotting import pyplot

OVERLAY_PX = 512  # longest side drawn in an overlay (its panels are ~350 px at 100 dpi)
THUMBNAIL_PX = 256  # longest side kept per gallery item (a cell is 3 in at 90 dpi = 270 px)


def thumbnail(image, max_side=THUMBNAIL_PX):
    """A float [0, 1] image shrunk (aspect kept, antialiased) so its longer side is at most ``max_side``.

    Always a new array, so keeping a thumbnail never keeps the full image alive.
    """
    from keras_cxr.data.transforms import resize

    image = np.asarray(image, np.float32)
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    return np.clip(resize(image, size), 0.0, 1.0).astype(np.float32)


def save_overlay(image, heatmap, path, title, mask=None, alpha=0.45):
    """The X-ray beside the X-ray with the map over it (colour bar), titled with the prediction."""
    plt = pyplot()
    image, heatmap = thumbnail(image, OVERLAY_PX), thumbnail(heatmap, OVERLAY_PX)
    if mask is not None:
        mask = thumbnail(np.asarray(mask, np.float32), OVERLAY_PX)
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
    """A grid of (image, heatmap, caption) overlays in one PNG (thumbnails are enough, see :func:`thumbnail`)."""
    plt = pyplot()
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


def blend_heatmap(image, heatmap, alpha=0.45, colormap="jet"):
    """A gray [0, 1] image with a [0, 1] map over it in ``colormap``: float RGB (H, W, 3) in [0, 1].

    The same picture as :func:`save_overlay`'s right panel, drawn with NumPy alone (no figure), so web
    pages can make one per image cheaply. The map is resized to the image when the sizes differ.
    """
    from matplotlib import colormaps

    from keras_cxr.explain.maps import resize_map

    image = np.asarray(image, np.float32)
    gray = image if image.ndim == 2 else image.mean(axis=-1)
    heatmap = resize_map(np.asarray(heatmap, np.float32), gray.shape)
    colours = colormaps[colormap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return np.clip((1.0 - alpha) * gray[..., None] + alpha * colours, 0.0, 1.0).astype(np.float32)
