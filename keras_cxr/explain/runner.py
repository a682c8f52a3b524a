"""``explain``: maps for files and folders, overlays, a gallery, and pointing-game scores.

Images are streamed: read a batch, convert, predict, explain with every
method, write each overlay and ``.npy`` map, then drop the batch. What is kept
across batches is small: the summary records and, for the galleries, at most
:data:`GALLERY_ITEMS` thumbnails per method. So a folder of thousands of
full-resolution X-rays runs in the memory of one batch.
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_dilation

from keras_cxr.data.decode import ImageDecodeError, images_below, read_image
from keras_cxr.explain.maps import Explainer, map_to_image, prepare_input, resize_map
from keras_cxr.explain.overlay import save_gallery, save_overlay, thumbnail
from keras_cxr.explain.report import write_explain_report
from keras_cxr.explain.pointing import default_tolerance, energy_inside, pointing_game_hit, summarize_pointing
from keras_cxr.uncertainty import calibrated_probabilities

GALLERY_ITEMS = 48  # per method; the gallery PNG shows the first ones


def collect_images(inputs):
    """Image files named directly, found below folders or listed in manifest CSVs, in a stable order.

    The same inputs as ``predict`` (:func:`keras_cxr.predict.collect_paths`): a named file or manifest
    row whose file is missing stays in the list and is reported as that file's error, not a stop.
    """
    from keras_cxr.predict.runner import collect_paths

    paths = collect_paths(inputs)
    if not paths:
        raise ValueError(f"No images found in {list(map(str, inputs))}")
    return paths


def _mask_index(masks_dir):
    index = {}
    for path in images_below(masks_dir):
        index.setdefault(path.name, path)
    if not index:
        raise ValueError(f"No mask images found in {masks_dir}")
    return index


def _unique_stem(path, used):
    stem = path.stem
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}_{n}"
    used.add(name)
    return name


def read_batches(paths, batch_size, on_error):
    """Yield lists of at most ``batch_size`` ``(path, gray image)``; unreadable files go to ``on_error(path, reason)``.

    Only the batch being explained (and the one being read) is ever in memory.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    batch = []
    for path in paths:
        try:
            batch.append((path, read_image(path)))
        except ImageDecodeError as error:
            on_error(path, error.reason)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _pointing_score(heatmap, mask_path, shape):
    """``(mask, scores)`` of a full-size map against a lesion mask file; scores are None for an empty mask."""
    mask = read_image(mask_path) > 0.5
    if mask.shape != shape:
        mask = resize_map(mask.astype(np.float32), shape) > 0.5
    if not mask.any():
        return mask, None
    tolerance = default_tolerance(mask.shape)
    share = binary_dilation(mask, iterations=tolerance).mean() if tolerance else mask.mean()
    return mask, {"hit": pointing_game_hit(heatmap, mask, tolerance), "energy_inside": energy_inside(heatmap, mask),
                  "tolerance_px": tolerance, "mask_share": float(share)}


class _ExplainRun:
    """One ``explain_paths`` call: explains batches as they come and keeps only records and thumbnails."""

    def __init__(self, loaded, methods, out_dir, class_name, layer, mask_index, options, bar):
        self.loaded, self.classes, self.converter = loaded, loaded.classes, loaded.converter
        self.target = loaded.classes.index(class_name) if class_name else None
        self.explainers = {m: Explainer(loaded.model, m, layer=layer, **options) for m in methods}
        self.dirs = {m: out_dir / m.replace("+", "p") for m in methods}
        for folder in self.dirs.values():
            folder.mkdir(exist_ok=True)
        self.mask_index, self.bar = mask_index, bar
        self.used_stems, self.errors, self.images, self.pointing = set(), [], 0, []
        self.records = {m: [] for m in methods}
        self.gallery = {m: [] for m in methods}

    def add_error(self, path, reason):
        self.errors.append({"path": str(path), "error": reason})
        if self.bar is not None:
            self.bar.update(len(self.explainers))

    def explain_batch(self, batch):
        """Predict once, then map, save and record every image of ``batch`` with every method."""
        stems = [_unique_stem(path, self.used_stems) for path, _ in batch]
        inputs = np.stack([prepare_input(gray, self.loaded.input_shape, self.converter) for _, gray in batch])
        probs = next(iter(self.explainers.values())).predict(inputs)
        probs = calibrated_probabilities(probs, self.loaded.calibration)  # as predict and evaluate report them
        predicted = [int(p.argmax()) for p in probs]
        targets = [p if self.target is None else self.target for p in predicted]
        for method, explainer in self.explainers.items():
            maps = explainer(inputs, targets)
            for (path, gray), stem, prob, pred, target, heatmap in zip(batch, stems, probs, predicted, targets, maps):
                self._save_one(method, path, gray, stem, float(prob.max()), pred, target, heatmap)
        self.images += len(batch)

    def _save_one(self, method, path, gray, stem, probability, predicted, target, heatmap):
        """Full-size map (.npy), overlay PNG, record, pointing score and (first 48) gallery thumbnail."""
        full = map_to_image(heatmap, gray.shape, self.converter)
        folder = self.dirs[method]
        np.save(folder / f"{stem}.npy", full)
        record = {"path": str(path), "method": method, "predicted": self.classes[predicted],
                  "probability": probability, "explained": self.classes[target],
                  "layer": self.explainers[method].layer, "overlay": str(folder / f"{stem}.png"),
                  "map": str(folder / f"{stem}.npy")}
        mask = None
        if self.mask_index is not None and path.name in self.mask_index:
            mask, score = _pointing_score(full, self.mask_index[path.name], gray.shape)
            if score is not None:
                record.update(score)
                self.pointing.append({"method": method, **score})
        title = (f"{path.name}: predicted {self.classes[predicted]} ({probability:.1%}); "
                 f"explained: {self.classes[target]} [{method}]")
        save_overlay(gray, full, folder / f"{stem}.png", title, mask=mask)
        if len(self.gallery[method]) < GALLERY_ITEMS:
            caption = f"{self.classes[predicted]} {probability:.0%}"
            self.gallery[method].append((thumbnail(gray), thumbnail(full), caption))
        self.records[method].append(record)
        if self.bar is not None:
            self.bar.update(1)

    def summary(self, out_dir):
        """Write the galleries and return ``summary.json``'s content (records grouped by method, as before)."""
        galleries = {m: str(save_gallery(items, out_dir / f"gallery_{m.replace('+', 'p')}.png"))
                     for m, items in self.gallery.items() if items}
        summary = {"model": self.loaded.name, "methods": list(self.explainers), "images": self.images,
                   "errors": self.errors, "galleries": galleries,
                   "explanations": [r for m in self.explainers for r in self.records[m]]}
        if self.pointing:
            summary["pointing_game"] = summarize_pointing(self.pointing)
        return summary


def _progress_bar(total, progress):
    """tqdm on stderr when it is a terminal (or when ``progress`` asks for it), else None."""
    if not (sys.stderr.isatty() if progress is None else progress):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="explaining", unit="map")


def explain_paths(model, inputs, out_dir, methods=("gradcam",), class_name=None, layer=None, masks=None,
                  batch_size=8, progress=None, **options):
    """Explain every image in ``inputs`` with each method; returns the summary written to ``summary.json``.

    Also writes ``report.md`` and ``report.html`` (pointing game, galleries, every overlay to browse).

    Streams ``batch_size`` images at a time (see the module docstring), so the
    memory needed does not grow with the number of images.
    """
    from keras_cxr.models.loading import LoadedModel, load_classifier

    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    if class_name is not None and class_name not in loaded.classes:
        raise ValueError(f"--class {class_name!r} is not one of the model's classes {loaded.classes}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = collect_images(inputs)
    mask_index = _mask_index(masks) if masks else None
    bar = _progress_bar(len(paths) * len(methods), progress)
    run = _ExplainRun(loaded, methods, out_dir, class_name, layer, mask_index, options, bar)
    try:
        for batch in read_batches(paths, batch_size, run.add_error):
            run.explain_batch(batch)
            del batch  # free this batch's full-size images before the next one is read
    finally:
        if bar is not None:
            bar.close()
    summary = run.summary(out_dir)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_explain_report(summary, out_dir)
    return summary
