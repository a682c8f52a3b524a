"""Do the maps point at the finding? Scores of a map against a lesion mask."""

import numpy as np


def pointing_game_hit(heatmap, mask, tolerance=0):
    """True if the map's maximum lies inside the mask (dilated by ``tolerance`` pixels).

    Zhang et al. 2018's pointing game; a random point hits with probability
    equal to the mask's share of the image, the baseline to beat.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("The pointing game needs a non-empty lesion mask")
    if tolerance:
        from scipy.ndimage import binary_dilation

        mask = binary_dilation(mask, iterations=int(tolerance))
    row, col = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return bool(mask[row, col])


def default_tolerance(shape):
    """Zhang et al.'s 15-pixel tolerance at 224x224, scaled to the image size."""
    return max(int(round(15 / 224 * min(shape))), 0)


def energy_inside(heatmap, mask):
    """Share of the map's total energy that falls inside the mask."""
    heatmap = np.clip(np.asarray(heatmap, float), 0, None)
    total = heatmap.sum()
    return float(heatmap[np.asarray(mask, bool)].sum() / total) if total > 0 else 0.0


def summarize_pointing(records):
    """Per method: hit rate, mean energy inside, and the mean mask share (the chance level)."""
    methods = sorted({r["method"] for r in records})
    summary = {}
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        summary[method] = {
            "images": len(rows),
            "hit_rate": float(np.mean([r["hit"] for r in rows])),
            "energy_inside": float(np.mean([r["energy_inside"] for r in rows])),
            "mask_share": float(np.mean([r["mask_share"] for r in rows])),
        }
    return summary
