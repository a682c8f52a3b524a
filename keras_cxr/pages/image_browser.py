"""The evaluation page's image browser: test images with their predictions and Grad-CAM overlays.

Which images a reader should look at first is the images the model got wrong,
the confident mistakes before the hesitant ones, then the correct predictions
it was least sure of. A test set of thousands does not fit in one page, so at
most ``limit`` images are kept in that order, and the page says how many of
each kind it holds. Grad-CAM (Selvaraju et al. 2017) explains the predicted
class on the model's own input (the run's converter), mapped back onto the
whole X-ray as ``explain`` does.
"""

import numpy as np

from keras_cxr.pages.render import array_data_uri

BROWSER_IMAGES = 200  # default images per evaluation page: ~25 kB each embedded (thumbnail + overlay)
THUMB_PX = 160  # grid thumbnail, longest side
OVERLAY_PX = 384  # the enlarged view on click
EXPLAIN_BATCH = 16


def browser_order(y_true, probs, limit=BROWSER_IMAGES):
    """Indices to show: misclassified (most confident first), then correct (least confident first).

    ``limit`` None or negative keeps every image; 0 keeps none.
    """
    y_true, probs = np.asarray(y_true), np.asarray(probs)
    predicted = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    right = np.flatnonzero(predicted == y_true)
    order = np.concatenate([wrong[np.argsort(-confidence[wrong], kind="stable")],
                            right[np.argsort(confidence[right], kind="stable")]]).astype(int)
    return order if limit is None or limit < 0 else order[:limit]


def browser_items(loaded, paths, y_true, probs, *, groups=None, group_by=None, sets=None, limit=BROWSER_IMAGES,
                  gradcam=True):
    """``{"items": [...], "shown": n, "total": N, "misclassified": k, ...}`` for the page's browser.

    ``paths``/``y_true``/``probs`` (calibrated, as reported): one entry per evaluated image;
    ``groups``: the ``--group-by`` value of each, ``group_by`` that column's name (the group filter's
    label); ``sets``: boolean conformal sets (n, k) or None.
    Each item carries an embedded thumbnail and, with ``gradcam``, an overlay of the predicted class.
    """
    from keras_cxr.data.decode import read_image

    classes = list(loaded.classes)
    order = browser_order(y_true, probs, limit)
    explainer, note = _explainer(loaded) if gradcam and len(order) else (None, None)
    items = []
    for start in range(0, len(order), EXPLAIN_BATCH):
        chosen = order[start:start + EXPLAIN_BATCH]
        grays = [read_image(paths[i]) for i in chosen]
        overlays = _overlays(explainer, loaded, grays, [int(probs[i].argmax()) for i in chosen])
        for i, gray, overlay in zip(chosen, grays, overlays):
            items.append(_item(i, paths[i], gray, overlay, classes, int(y_true[i]), probs[i],
                               None if groups is None else str(groups[i]), None if sets is None else sets[i]))
    wrong = int(np.sum(np.asarray(probs).argmax(axis=1) != np.asarray(y_true)))
    return {"items": items, "shown": len(items), "total": len(y_true), "misclassified": wrong,
            "classes": classes, "groups": sorted({it["group"] for it in items if it["group"] is not None}),
            "group_by": group_by, "gradcam_note": note, "has_truth": True}


def _explainer(loaded):
    """(Grad-CAM explainer, None), or (None, why not) for a network without a spatial feature map."""
    from keras_cxr.explain.maps import Explainer

    try:
        return Explainer(loaded.model, "gradcam"), None
    except ValueError as error:
        return None, f"No Grad-CAM overlays: {error}"


def _overlays(explainer, loaded, grays, targets):
    """Embedded Grad-CAM overlays (one per image; None each without an explainer)."""
    if explainer is None:
        return [None] * len(grays)
    from keras_cxr.explain.maps import prepare_input

    converter = loaded.converter
    inputs = np.stack([prepare_input(gray, loaded.input_shape, converter) for gray in grays])
    maps = explainer(inputs, targets)
    return [overlay_data_uri(gray, heatmap, converter, OVERLAY_PX) for gray, heatmap in zip(grays, maps)]


def overlay_data_uri(gray, heatmap, converter, max_side):
    """A map over the model's view, drawn on the whole X-ray (at most ``max_side`` px) as an embedded JPEG.

    The one drawing of a Grad-CAM overlay for web pages: the report's browser and ``serve``.
    """
    from keras_cxr.explain.maps import map_to_image
    from keras_cxr.explain.overlay import blend_heatmap, thumbnail

    full = map_to_image(heatmap, gray.shape, converter)
    return array_data_uri(blend_heatmap(thumbnail(gray, max_side), thumbnail(full, max_side)))


def _item(index, path, gray, overlay, classes, true_index, probs, group, conformal_set):
    from pathlib import Path

    from keras_cxr.explain.overlay import thumbnail

    predicted = int(np.argmax(probs))
    item = {"index": int(index), "name": Path(path).name, "path": str(path), "true": classes[true_index],
            "predicted": classes[predicted], "confidence": round(float(probs[predicted]), 4),
            "correct": predicted == true_index, "group": group,
            "probabilities": {c: round(float(p), 4) for c, p in zip(classes, probs)},
            "thumbnail": array_data_uri(thumbnail(gray, THUMB_PX)), "overlay": overlay,
            "image": array_data_uri(thumbnail(gray, OVERLAY_PX))}
    if conformal_set is not None:
        from keras_cxr.uncertainty.conformal import set_names

        item["set"] = set_names(conformal_set, probs, classes)
    return item
