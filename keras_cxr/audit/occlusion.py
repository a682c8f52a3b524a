"""Does the model look at the lungs? Accuracy with regions hidden, and Grad-CAM energy inside the lung fields.

DeGrave et al. 2021 found COVID-19 classifiers that kept much of their
accuracy with the lung fields blanked: they read markers, text and the
patient's shape. Here each image, as the model sees it, is scored four ways:
as it is, with the lung fields hidden, with only the lung fields kept, and
with the border (where side markers, text and collimator edges sit) hidden.
A hidden region is filled with the median grey of the pixels it hides, the
least unnatural flat fill (a fill far brighter or darker than the region adds
edges that a model reads as findings).
"""

import numpy as np

from keras_cxr.data.decode import images_below, read_image

# Lung fields when no masks are given: rows 15-85% and columns 12-88% of the model's view. Measured on 200
# synthetic patients as posed by the generator: 99.8% of their lung pixels inside (the worst patient 93.9%);
# the box is 54% of the view. Real films are framed less alike: give --lung-masks for them.
LUNG_BOX = (0.15, 0.85, 0.12, 0.88)  # top, bottom, left, right
# The border band hidden in "border_masked": 16% of each side, so it holds the whole of a corner marker stamped
# within 15% of the edges (keras_cxr.data.synthetic.plant_marker); it also hides lung apices and bases.
BORDER = 0.16
CONDITIONS = ("none", "lungs_masked", "only_lungs", "border_masked")
# The flag: clean accuracy at least MIN_SKILL above chance, and with the lungs hidden the model keeps at least
# SURVIVAL of that margin (accuracy >= chance + SURVIVAL * (clean - chance)).
MIN_SKILL = 0.1
SURVIVAL = 0.5


def box_mask(size, box=LUNG_BOX):
    """Boolean (size, size) mask of a box given as (top, bottom, left, right) fractions."""
    top, bottom, left, right = (int(round(f * size)) for f in box)
    mask = np.zeros((size, size), bool)
    mask[top:bottom, left:right] = True
    return mask


def border_mask(size, fraction=BORDER):
    """Boolean (size, size) mask of the outer band, ``fraction`` of the size on each side (rounded up)."""
    band = int(np.ceil(fraction * size))
    mask = np.ones((size, size), bool)
    mask[band:size - band, band:size - band] = False
    return mask


def mask_index(folder):
    """``{file stem: mask file}`` below ``folder``; a stem found twice is an error (which mask is meant?)."""
    index = {}
    for path in images_below(folder):
        if path.stem in index:
            raise ValueError(f"--lung-masks: two masks for {path.stem!r}: {index[path.stem]} and {path}")
        index[path.stem] = path
    if not index:
        raise ValueError(f"--lung-masks: no mask images found in {folder}")
    return index


def lung_mask_view(index, image_path, image_shape, converter):
    """The lung mask of one image, as the model sees it (same resize and crop as the image)."""
    from pathlib import Path

    mask_path = index.get(Path(image_path).stem)
    if mask_path is None:
        raise ValueError(f"--lung-masks: no mask for {image_path} (looked for a file named {Path(image_path).stem}.*)")
    mask = read_image(mask_path)
    if mask.shape != tuple(image_shape):
        raise ValueError(f"--lung-masks: {mask_path} is {mask.shape[1]}x{mask.shape[0]} px, its image {image_path} "
                         f"is {image_shape[1]}x{image_shape[0]}")
    view = converter.convert_array(mask)[..., 0] > 127
    if not view.any():
        raise ValueError(f"--lung-masks: {mask_path} is empty (no lung pixel)")
    return view


def fill(views, regions):
    """uint8 ``views`` (N, S, S, 1) with ``regions`` (N, S, S) set to one grey: the median of what they hide
    over all the images.

    One grey for every image, so the fill says nothing about the image it covers: a per-image median
    of the lungs would carry their opacity into the "lungs hidden" view and let a model that reads
    the lungs keep its accuracy, flagged as a shortcut.
    """
    out = np.array(views, copy=True)
    hidden = np.broadcast_to(regions[..., None], out.shape)
    if hidden.any():
        out[hidden] = np.round(np.median(out[hidden]))
    return out


def occluded(views, lungs):
    """``{condition: views}`` for CONDITIONS; ``lungs``: boolean lung masks (N, S, S)."""
    border = np.broadcast_to(border_mask(views.shape[1]), lungs.shape)
    return {"none": views, "lungs_masked": fill(views, lungs), "only_lungs": fill(views, ~lungs),
            "border_masked": fill(views, border)}


def occlusion_accuracies(predict, views, lungs, y_true, seed=0):
    """Accuracy (95% bootstrap interval) per condition; ``predict``: uint8 batch -> probabilities."""
    from keras_cxr.evaluation.confidence import bootstrap_interval

    def accuracy(truth, predicted):
        return float(np.mean(truth == predicted))

    results = {}
    for condition, images in occluded(views, lungs).items():
        predicted = np.asarray(predict(images)).argmax(axis=1)
        results[condition] = bootstrap_interval(accuracy, y_true, predicted, seed=seed)
    return results


def verdict(accuracies, chance):
    """Flag a model whose accuracy survives hiding the lungs (rule: module constants MIN_SKILL, SURVIVAL)."""
    clean, hidden = accuracies["none"]["value"], accuracies["lungs_masked"]["value"]
    border_drop = clean - accuracies["border_masked"]["value"]
    entry = {"chance": chance, "judged": clean - chance >= MIN_SKILL, "flagged": False,
             "survival_threshold": chance + SURVIVAL * (clean - chance), "border_drop": border_drop}
    if not entry["judged"]:
        entry["reason"] = (f"not judged: accuracy {clean:.2f} is less than {MIN_SKILL} above chance ({chance:.2f}), "
                           "so there is no skill whose source could be located")
        return entry
    lower = accuracies["lungs_masked"].get("lower")
    lower = hidden if lower is None else lower
    # Kept half the margin, and surely above chance: not a lucky draw of a small test set.
    entry["flagged"] = hidden >= entry["survival_threshold"] and lower > chance
    kept = (hidden - chance) / (clean - chance)
    entry["reason"] = (f"accuracy {hidden:.2f} (95% CI from {lower:.2f}) with the lung fields hidden (clean "
                       f"{clean:.2f}, chance {chance:.2f}): {kept:.0%} of the margin over chance kept"
                       + (" - the model decides from outside the lungs" if entry["flagged"] else ""))
    return entry


def gradcam_energy(model, views, lungs, classes):
    """Mean share of Grad-CAM energy inside the lung masks for each image's given (predicted) class; also per class.

    Per class because a map for "normal" has no finding to point at: its energy says less than a disease's.
    """
    from keras_cxr.explain.maps import Explainer
    from keras_cxr.explain.pointing import energy_inside

    explainer = Explainer(model, "gradcam")
    channels = explainer.input_shape[-1]
    shares = []
    for start in range(0, len(views), 32):
        batch = np.repeat(np.asarray(views[start:start + 32], np.float32) / 255.0, channels, axis=-1)
        maps = explainer(batch, classes[start:start + 32])
        shares += [energy_inside(m, mask) for m, mask in zip(maps, lungs[start:start + 32])]
    classes = np.asarray(classes)
    by_class = {int(c): float(np.mean(np.asarray(shares)[classes == c])) for c in np.unique(classes)}
    return {"energy_in_lungs": float(np.mean(shares)), "lung_share": float(np.mean(lungs)), "layer": explainer.layer,
            "images": len(shares), "by_predicted_class": by_class}
