"""tf.data input pipelines from a manifest, ready for ``model.fit``.

This is the TensorFlow-specific part of the data package. Per file, the one
preprocessing definition (:class:`~keras_cxr.data.image_converter.ImageConverter`:
decode with the intensity policy, grayscale, Pillow resize, centre crop, uint8)
runs inside ``tf.numpy_function``, so training sees exactly the pixels that
``evaluate``, ``explain``, ``predict`` and ``export`` see. Then cache (uint8:
50 KB per 224x224 image), shuffle, batch, convert to float [0, 1] with one or
three channels, augment on batches (training only), prefetch.

Every file is checked before the first epoch (:func:`scan_files`), so a run
never crashes mid-epoch on a bad file: the pipeline refuses to build, listing
the bad files, unless ``skip_bad=True``, which writes them to a report.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_cxr.data.augment import get_augmentation
from keras_cxr.data.integrity import BadFilesError, scan_files, write_bad_file_report
from keras_cxr.data.manifest import Manifest
from keras_cxr.data.sources import load_any
from keras_cxr.utils.logging import get_logger

AUTOTUNE = tf.data.AUTOTUNE
# cache="auto" keeps decoded uint8 images in memory up to this size, so later epochs skip decoding.
AUTO_CACHE_BYTES = 2 * 1024**3
# Part of every cache file's fingerprint: bump when what a cache holds changes shape or meaning.
CACHE_FORMAT = 1


def load_images(converter, training):
    """A tf.data map function path -> uint8 [S, S, 1]: ``load_size`` for training (random crops follow), else the model view."""
    size = converter.load_size if training else converter.image_size

    def convert(path):
        path = path.decode() if isinstance(path, bytes) else str(path)
        return converter.load(path) if training else converter(path)

    def load(path):
        image = tf.numpy_function(convert, [path], tf.uint8, stateful=False)
        image.set_shape([size, size, 1])
        return image

    return load


def check_files(manifest, skip_bad=False, report_path=None, progress=False):
    """Scan every file of ``manifest``; returns (good manifest, {path: FileInfo}).

    Bad files raise :class:`BadFilesError` (listing them), or with ``skip_bad`` are left out with a
    warning that names them. ``report_path`` (a run's or an output folder's ``bad_files.csv``) gets the
    full list in either case; without it nothing is written, so no run litters the working directory.
    """
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    infos = scan_files(paths, progress=progress)
    bad = [infos[p] for p in dict.fromkeys(paths) if not infos[p].ok]
    if not bad:
        return manifest, infos
    if report_path is not None:
        write_bad_file_report(bad, report_path)
    if not skip_bad:
        raise BadFilesError(bad, report_path)
    shown = "; ".join(f"{info.path}: {info.reason}" for info in bad[:10])
    more = f"; ... and {len(bad) - 10} more" if len(bad) > 10 else ""
    where = f" (all listed in {report_path})" if report_path is not None else ""
    get_logger().warning("Skipping %d unreadable file(s)%s: %s%s", len(bad), where, shown, more)
    bad_paths = {info.path for info in bad}
    kept = [r for r, p in zip(manifest.records, paths) if p not in bad_paths]
    return Manifest(kept, manifest.classes, manifest.root, manifest.meta), infos


def _resolve_cache(cache, count, size):
    if cache != "auto":
        return cache
    needed = count * size * size
    if needed <= AUTO_CACHE_BYTES:
        return "memory"
    get_logger().info("Not caching %d images (%.1f GB decoded > %.1f GB): every epoch decodes them again; "
                      "set a cache file prefix or preprocess to a smaller size once", count, needed / 1e9,
                      AUTO_CACHE_BYTES / 1e9)
    return None


def cache_fingerprint(paths, labels, infos, converter, view, channels, classes):
    """A short hash of everything that decides the cached images and labels.

    Files (path, label index, size, modification time, content hash), the class list, the conversion
    (image and load size, resize, crop, intensity policy), which view is cached (``load_size`` images
    for random crops, or the model's centre crop) and the channels: if any of them changes, so does the
    name of the cache file, and a stale cache is never read back as if it held this data.
    """
    digest = hashlib.sha256()
    settings = {"format": CACHE_FORMAT, "converter": converter.get_config(), "view": view,
                "channels": int(channels), "classes": list(classes)}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for path, label in zip(paths, labels):
        stat = os.stat(path)
        info = infos.get(path)
        digest.update(f"{path}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\0{info.sha1 if info else ''}\n".encode())
    return digest.hexdigest()[:16]


def cache_file(prefix, fingerprint):
    """``PREFIX-<fingerprint>`` (inside PREFIX when it is a folder), its folder made; logs the choice.

    Caches of the same prefix made from other data or settings stay on disk under their own
    fingerprints; they are listed so their space can be reclaimed.
    """
    prefix = Path(os.fspath(prefix))
    path = prefix / f"cache-{fingerprint}" if prefix.is_dir() else Path(f"{prefix}-{fingerprint}")
    path.parent.mkdir(parents=True, exist_ok=True)
    log = get_logger()
    state = "reusing" if Path(f"{path}.index").is_file() else "writing"
    log.info("tf.data cache: %s %s", state, path)
    lockfiles = sorted(path.parent.glob(f"{path.name}_*.lockfile"))
    if lockfiles and state == "writing":
        log.warning("%s exists: another run is writing this cache now, or a killed run left it behind; "
                    "if no other run uses it, delete it (TensorFlow refuses to write the cache while it exists)",
                    lockfiles[0])
    others = sorted(p for p in path.parent.glob(f"{path.name.rsplit('-', 1)[0]}-*.index") if p.stem != path.name)
    if others:
        log.info("%d other cache(s) of this prefix, made from other data or settings (delete them to free the "
                 "disk): %s", len(others), ", ".join(str(p.with_suffix("")) for p in others))
    return str(path)


def _readable_rows(source, split, classes, skip_bad, bad_file_report):
    """(the split's rows in ``classes`` order, their file checks); unreadable files raise or are left out."""
    manifest = source if isinstance(source, Manifest) else load_any(source, classes=classes)
    if classes is not None and list(classes) != manifest.classes:
        manifest = Manifest(manifest.records, classes, manifest.root, manifest.meta)
    if split is not None:
        manifest = manifest.subset(split)
    if not manifest.records:
        raise ValueError(f"No images in split {split!r} of the manifest")
    return check_files(manifest, skip_bad=skip_bad, report_path=bad_file_report)


def _geometry(augment, image_size, converter, training, seed):
    """(augmentation, converter, whether random layers run): the preset's and the converter's sizes must agree."""
    augmentation = get_augmentation(augment, image_size, seed=seed)
    converter = converter or augmentation.converter(image_size)
    if converter.image_size != int(image_size):
        raise ValueError(f"converter is for {converter.image_size} px, the dataset for {image_size} px")
    randomised = bool(training and augmentation.layers)
    if randomised and converter.load_size != augmentation.load_size:
        raise ValueError(f"augmentation {augment!r} crops from {augmentation.load_size} px, "
                         f"the converter loads at {converter.load_size} px")
    return augmentation, converter, randomised


def make_dataset(
    source,
    split=None,
    *,
    image_size=224,
    channels=3,
    batch_size=32,
    augment="none",
    shuffle=None,
    cache="auto",
    deterministic=False,
    seed=0,
    classes=None,
    skip_bad=False,
    bad_file_report=None,
    drop_remainder=False,
    training=None,
    converter=None,
):
    """A ``tf.data.Dataset`` of ``(images, one_hot_labels)`` batches from a manifest split.

    Args:
        source: a :class:`Manifest`, a manifest CSV, or a folder (``manifest.csv``
            inside, or a folder per class).
        split: ``"train"``, ``"val"``, ``"test"`` or None (all rows).
        image_size: output height and width; ``channels``: 1 or 3 (grayscale copied).
        augment: an augmentation preset (``keras_cxr.data.augment.PRESETS``); its
            random layers run in training mode only, and outside it images get
            the preset's test-time geometry (centre crop of the load size).
        shuffle: default True for the train split, False otherwise.
        training: random augmentation on (default: the value of ``shuffle``).
        converter: an :class:`ImageConverter` overriding the preset's geometry
            (``evaluate`` passes the one saved with the run).
        cache: ``"auto"`` (memory when the decoded uint8 images fit in
            :data:`AUTO_CACHE_BYTES`, else none), None, ``"memory"`` or a file
            path prefix for ``Dataset.cache``: the file is ``PREFIX-<fingerprint>``
            (:func:`cache_fingerprint`: files, labels, sizes, settings), so changed
            data or settings never read a stale cache. Without a cache every epoch
            decodes every file again (full-size X-rays: most of an epoch).
        deterministic: fixed order and augmentation for a given ``seed``
            (unshuffled datasets always keep the manifest's order).
        classes: class names in order (default: the manifest's).
        skip_bad: leave unreadable files out (listed in ``bad_file_report``)
            instead of raising :class:`BadFilesError`.

    The dataset has ``class_names`` and ``num_examples`` attributes.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    manifest, infos = _readable_rows(source, split, classes, skip_bad, bad_file_report)
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    labels = [manifest.label_index(r["label"]) for r in manifest.records]
    num_classes = len(manifest.classes)
    if shuffle is None:
        shuffle = split == "train"
    if training is None:
        training = bool(shuffle)
    # Unshuffled datasets keep manifest order (evaluation aligns predictions with paths).
    ordered = bool(deterministic or not shuffle)
    augmentation, converter, randomised = _geometry(augment, image_size, converter, training,
                                                    seed if deterministic else None)
    load = load_images(converter, training=randomised)
    cache = _resolve_cache(cache, len(paths), converter.load_size if randomised else image_size)
    if cache and cache != "memory":
        view = "load_size" if randomised else "model"
        cache = cache_file(cache, cache_fingerprint(paths, labels, infos, converter, view, channels, manifest.classes))

    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(paths), np.asarray(labels, np.int32)))
    if shuffle and not cache:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(lambda p, y: (load(p), y), num_parallel_calls=AUTOTUNE, deterministic=ordered)
    if cache:
        dataset = dataset.cache("" if cache == "memory" else cache)
        if shuffle:
            dataset = dataset.shuffle(min(len(paths), 20000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def to_model_input(images, y):
        images = tf.cast(images, tf.float32) / 255.0
        if randomised or channels == 3:
            images = tf.repeat(images, 3, axis=-1)
        if randomised:
            images = augmentation(images, training=True)
            if converter.load_size != image_size:  # a preset without a crop of its own: the converter's
                images = tf.image.resize_with_crop_or_pad(images, image_size, image_size)
        if channels == 1 and images.shape[-1] != 1:
            images = tf.reduce_mean(images, axis=-1, keepdims=True)
        images.set_shape([None, image_size, image_size, channels])
        return images, tf.one_hot(y, num_classes)

    # The augmentation layers draw from a stateful seed counter: parallel calls may take its values in any
    # order, so deterministic mode runs them one batch at a time (found when oneDNN changed the timing).
    sequential = deterministic and randomised
    dataset = dataset.map(to_model_input, num_parallel_calls=None if sequential else AUTOTUNE, deterministic=ordered)
    options = tf.data.Options()
    options.deterministic = ordered
    dataset = dataset.with_options(options).prefetch(AUTOTUNE)
    dataset.class_names = list(manifest.classes)
    dataset.converter = converter
    dataset.num_examples = len(paths)
    return dataset
