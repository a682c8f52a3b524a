"""Shortcut probes of a trained model on the audited data (``keras-cxr audit --model RUN``).

A dataset's confounds matter if a model uses them (DeGrave et al. 2021). Three
probes on the images the model is scored on:

- a linear probe on its pooled features predicting each group column
  (:mod:`keras_cxr.audit.probes`);
- accuracy with the lung fields hidden, with only them kept and with the
  border hidden, and the share of Grad-CAM energy inside the lung fields
  (:mod:`keras_cxr.audit.occlusion`).

A model whose accuracy survives hiding the lungs is flagged.
"""

import numpy as np

from keras_cxr.audit import occlusion
from keras_cxr.audit.probes import pooled_features, probe_auroc
from keras_cxr.data.decode import ImageDecodeError, read_image


def probed_images(loaded, data):
    """(the manifest rows the probes score, how they were chosen): never an image the model trained on.

    The data's test split (or the run's own, for the run's data without a split column); data that is
    neither is scored whole as an external set. Either way every image is checked against the run's
    training split (patient id, file content) and the audit refused on overlap, as ``evaluate`` does;
    without a ``split.csv`` beside the model only a test split can be trusted.
    """
    from keras_cxr.evaluation.selection import check_training_overlap, run_split, select_images

    trained_on = run_split(loaded.path)
    try:
        manifest, selection = select_images(data, "test", trained_on)
    except ValueError:
        if trained_on is None:
            raise ValueError(f"--model: {data} has no test split and there is no split.csv beside {loaded.path}, "
                             "so the images the model trained on are unknown; split the data by patient "
                             "(keras-cxr data split) and audit its test split") from None
        manifest, selection = select_images(data, None), "every image (an external set: none in the run's training split)"
    check_training_overlap(manifest, trained_on, allow_overlap=False, model_path=loaded.path)
    return manifest, selection


def shortcut_probes(model, data, columns, lung_masks=None, seed=0):
    """The ``shortcut_probes`` entry of ``audit.json`` for a run directory or ``.keras`` file ``model``."""
    from keras_cxr.models.loading import load_classifier

    loaded = load_classifier(model)
    manifest, image_set = probed_images(loaded, data)
    rows = list(manifest.records)
    unknown = sorted({r["label"] for r in rows} - set(loaded.classes))
    if unknown:
        raise ValueError(f"--model {model}: labels {unknown} of the data are not among the model's classes "
                         f"{loaded.classes}")
    rows, views, lungs, unreadable = _views(loaded, manifest, rows, lung_masks)
    if not rows:
        raise ValueError(f"--model: none of the {image_set} could be read")
    y = np.array([loaded.classes.index(r["label"]) for r in rows])
    chance = float(np.bincount(y).max() / len(y))
    accuracies = occlusion.occlusion_accuracies(loaded.predict_uint8, views, lungs, y, seed=seed)
    predicted = np.asarray(loaded.predict_uint8(views)).argmax(axis=1)
    inputs = np.repeat(views.astype(np.float32) / 255.0, loaded.input_shape[-1], axis=-1)
    features = pooled_features(loaded.model, inputs)
    patients = [r.get("patient_id") for r in rows]
    probes = [probe_auroc(features, [r.get(c, "") for r in rows], c,
                          patients=patients if all(patients) else None, seed=seed) for c in columns]
    return {
        "model": str(loaded.path), "classes": loaded.classes, "image_set": image_set, "images": len(rows),
        "unreadable": unreadable, "lung_fields": _lung_fields(lung_masks, views.shape[1]),
        "linear_probe": probes, "occlusion": accuracies,
        "gradcam": _named(occlusion.gradcam_energy(loaded.model, views, lungs, predicted), loaded.classes),
        "verdict": occlusion.verdict(accuracies, chance),
    }


def _views(loaded, manifest, rows, lung_masks):
    """uint8 model views (N, S, S, 1) and lung masks (N, S, S) of the readable rows; unreadable paths apart."""
    converter, size = loaded.converter, loaded.input_shape[0]
    index = occlusion.mask_index(lung_masks) if lung_masks else None
    kept, views, lungs, unreadable = [], [], [], []
    for row in rows:
        path = manifest.resolve(row)
        try:
            gray = read_image(path)
        except ImageDecodeError as error:
            unreadable.append({"path": str(path), "reason": error.reason})
            continue
        kept.append(row)
        views.append(converter.convert_array(gray))
        lungs.append(occlusion.box_mask(size) if index is None
                     else occlusion.lung_mask_view(index, path, gray.shape, converter))
    if not kept:
        return kept, None, None, unreadable
    return kept, np.stack(views), np.stack(lungs), unreadable


def _named(gradcam, classes):
    gradcam["by_predicted_class"] = {classes[c]: share for c, share in gradcam["by_predicted_class"].items()}
    return gradcam


def _lung_fields(lung_masks, size):
    if lung_masks:
        return {"source": "masks", "folder": str(lung_masks), "border_fraction": occlusion.BORDER}
    top, bottom, left, right = occlusion.LUNG_BOX
    return {"source": "fixed box", "box": {"top": top, "bottom": bottom, "left": left, "right": right},
            "border_fraction": occlusion.BORDER, "view_size": size}
