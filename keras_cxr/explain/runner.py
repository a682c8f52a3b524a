"""``explain``: maps for files and folders, overlays, a gallery, and pointing-game scores."""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import binary_dilation

from keras_cxr.data.decode import ImageDecodeError, is_image_file, read_image
from keras_cxr.explain.maps import Explainer, map_to_image, prepare_input, resize_map
from keras_cxr.explain.overlay import save_gallery, save_overlay
from keras_cxr.explain.pointing import default_tolerance, energy_inside, pointing_game_hit, summarize_pointing


def collect_images(inputs):
    """Image files named directly or found below folders, in a stable order."""
    paths = []
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            paths.extend(sorted(p for p in item.rglob("*") if p.is_file() and is_image_file(p)))
        elif item.is_file():
            paths.append(item)
        else:
            raise FileNotFoundError(f"No image or folder at {item}")
    if not paths:
        raise ValueError(f"No images found in {list(map(str, inputs))}")
    return paths


def _mask_index(masks_dir):
    index = {}
    for path in Path(masks_dir).rglob("*"):
        if path.is_file() and is_image_file(path):
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


def explain_paths(model, inputs, out_dir, methods=("gradcam",), class_name=None, layer=None, masks=None,
                  batch_size=8, progress=None, **options):
    """Explain every image in ``inputs`` with each method; returns the summary written to ``summary.json``."""
    from keras_cxr.models.loading import LoadedModel, load_classifier

    loaded = model if isinstance(model, LoadedModel) else load_classifier(model)
    classes = loaded.classes
    if class_name is not None and class_name not in classes:
        raise ValueError(f"--class {class_name!r} is not one of the model's classes {classes}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = collect_images(inputs)
    mask_index = _mask_index(masks) if masks else None
    explainers = {m: Explainer(loaded.model, m, layer=layer, **options) for m in methods}

    images, errors = [], []
    for path in paths:
        try:
            images.append((path, read_image(path)))
        except ImageDecodeError as error:
            errors.append({"path": str(path), "error": error.reason})
    converter = loaded.converter
    inputs_ = np.stack([prepare_input(gray, loaded.input_shape, converter) for _, gray in images]) if images else None
    probs = next(iter(explainers.values())).predict(inputs_) if images else np.zeros((0, len(classes)))

    records, pointing, gallery = [], [], {m: [] for m in methods}
    used = set()
    show_progress = sys.stderr.isatty() if progress is None else progress
    total = len(images) * len(methods)
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="explaining", unit="map")
    stems = [_unique_stem(p, used) for p, _ in images]
    for method, explainer in explainers.items():
        method_dir = out_dir / method.replace("+", "p")
        method_dir.mkdir(exist_ok=True)
        for start in range(0, len(images), batch_size):
            chunk = range(start, min(start + batch_size, len(images)))
            predicted = [int(probs[i].argmax()) for i in chunk]
            targets = [classes.index(class_name) if class_name else p for p in predicted]
            maps = explainer(inputs_[list(chunk)], targets)
            for i, target, heatmap in zip(chunk, targets, maps):
                path, gray = images[i]
                full = map_to_image(heatmap, gray.shape, converter)
                np.save(method_dir / f"{stems[i]}.npy", full)
                title = (f"{path.name}: predicted {classes[predicted[i - start]]} "
                         f"({probs[i].max():.1%}); explained: {classes[target]} [{method}]")
                mask = None
                record = {"path": str(path), "method": method, "predicted": classes[predicted[i - start]],
                          "probability": float(probs[i].max()), "explained": classes[target],
                          "layer": explainer.layer, "overlay": str(method_dir / f"{stems[i]}.png"),
                          "map": str(method_dir / f"{stems[i]}.npy")}
                if mask_index is not None and path.name in mask_index:
                    mask = read_image(mask_index[path.name]) > 0.5
                    if mask.shape != gray.shape:
                        mask = resize_map(mask.astype(np.float32), gray.shape) > 0.5
                    if mask.any():
                        tolerance = default_tolerance(mask.shape)
                        score = {"hit": pointing_game_hit(full, mask, tolerance),
                                 "energy_inside": energy_inside(full, mask), "tolerance_px": tolerance,
                                 "mask_share": float(binary_dilation(mask, iterations=tolerance).mean()
                                                     if tolerance else mask.mean())}
                        record.update(score)
                        pointing.append({"method": method, **score})
                save_overlay(gray, full, method_dir / f"{stems[i]}.png", title, mask=mask)
                gallery[method].append((gray, full, f"{classes[predicted[i - start]]} {probs[i].max():.0%}"))
                records.append(record)
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    galleries = {m: str(save_gallery(items[:48], out_dir / f"gallery_{m.replace('+', 'p')}.png"))
                 for m, items in gallery.items() if items}
    summary = {"model": loaded.name, "methods": list(methods), "images": len(images), "errors": errors,
               "galleries": galleries, "explanations": records}
    if pointing:
        summary["pointing_game"] = summarize_pointing(pointing)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
