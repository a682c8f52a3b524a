"""tf.data input pipelines from a manifest, ready for ``model.fit``.

This is the TensorFlow-specific part of the data package. Per file: read,
decode (native TF decoders for PNG/JPEG/BMP, the Python decoder for DICOM and
TIFF), convert to grayscale, resize to the load size, store as uint8 (cache
friendly: 50 KB per 224x224 image). Then cache, shuffle, batch, convert to
float [0, 1] with one or three channels, augment on batches, prefetch.

Every file is checked before the first epoch (:func:`scan_files`), so a run
never crashes mid-epoch on a bad file: the pipeline refuses to build, listing
the bad files, unless ``skip_bad=True``, which writes them to a report.
"""

import os

import numpy as np
import tensorflow as tf

from keras_cxr.data.augment import get_augmentation
from keras_cxr.data.decode import read_image
from keras_cxr.data.integrity import BadFilesError, scan_files, write_bad_file_report
from keras_cxr.data.manifest import Manifest, load_any
from keras_cxr.utils.logging import get_logger

AUTOTUNE = tf.data.AUTOTUNE

# PIL (format, mode) pairs the native TF decoders read exactly like read_image.
_NATIVE = {
    ("PNG", "L"): 0, ("PNG", "LA"): 0, ("PNG", "RGB"): 0, ("PNG", "RGBA"): 0, ("PNG", "I;16"): 0,
    ("PNG", "I;16B"): 0, ("PNG", "I"): 0,
    ("JPEG", "L"): 1, ("JPEG", "RGB"): 1,
    ("BMP", "L"): 2, ("BMP", "RGB"): 2, ("BMP", "RGBA"): 2,
}
_PYTHON = 3


def _gray(image):
    """[H, W, C] float -> [H, W, 1] luminance (alpha dropped)."""
    channels = tf.shape(image)[-1]

    def rgb():
        return tf.image.rgb_to_grayscale(image[..., :3])

    return tf.case(
        [(tf.equal(channels, 1), lambda: image), (tf.equal(channels, 2), lambda: image[..., :1])],
        default=rgb,
    )


def _python_decode(path):
    return read_image(path.decode() if isinstance(path, bytes) else path)[..., None]


def decode_file(path, decoder):
    """Path + decoder index -> [H, W, 1] float32 in [0, 1]."""

    def png():
        return tf.cast(tf.io.decode_png(tf.io.read_file(path), channels=0, dtype=tf.uint16), tf.float32) / 65535.0

    def jpeg():
        return tf.cast(tf.io.decode_jpeg(tf.io.read_file(path), channels=0), tf.float32) / 255.0

    def bmp():
        return tf.cast(tf.io.decode_bmp(tf.io.read_file(path), channels=0), tf.float32) / 255.0

    def python():
        image = tf.numpy_function(_python_decode, [path], tf.float32, stateful=False)
        return tf.reshape(image, [tf.shape(image)[0], tf.shape(image)[1], 1])

    image = tf.switch_case(decoder, branch_fns=[lambda: _gray(png()), lambda: _gray(jpeg()),
                                                lambda: _gray(bmp()), python])
    image.set_shape([None, None, 1])
    return image


def load_image(path, decoder, size):
    """Decode, resize to ``size`` x ``size`` and quantise to uint8."""
    image = decode_file(path, decoder)
    image = tf.image.resize(image, [size, size], method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(image, 0.0, 1.0) * 255.0), tf.uint8)


def check_files(manifest, skip_bad=False, report_path=None, progress=False):
    """Scan every file of ``manifest``; returns (good manifest, {path: FileInfo})."""
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    infos = scan_files(paths, progress=progress)
    bad = [infos[p] for p in dict.fromkeys(paths) if not infos[p].ok]
    if bad and not skip_bad:
        raise BadFilesError(bad)
    if bad:
        report_path = report_path or "bad_files.csv"
        write_bad_file_report(bad, report_path)
        get_logger().warning("Skipping %d unreadable file(s); listed in %s", len(bad), report_path)
        bad_paths = {info.path for info in bad}
        kept = [r for r, p in zip(manifest.records, paths) if p not in bad_paths]
        manifest = Manifest(kept, manifest.classes, manifest.root, manifest.meta)
    return manifest, infos


def make_dataset(
    source,
    split=None,
    *,
    image_size=224,
    channels=3,
    batch_size=32,
    augment="none",
    shuffle=None,
    cache=None,
    deterministic=False,
    seed=0,
    classes=None,
    skip_bad=False,
    bad_file_report=None,
    drop_remainder=False,
):
    """A ``tf.data.Dataset`` of ``(images, one_hot_labels)`` batches from a manifest split.

    Args:
        source: a :class:`Manifest`, a manifest CSV, or a folder (``manifest.csv``
            inside, or a folder per class).
        split: ``"train"``, ``"val"``, ``"test"`` or None (all rows).
        image_size: output height and width; ``channels``: 1 or 3 (grayscale copied).
        augment: an augmentation preset (``keras_cxr.data.augment.PRESETS``).
        shuffle: default True for the train split, False otherwise.
        cache: None, ``"memory"`` or a file path prefix for ``Dataset.cache``.
        deterministic: fixed order and augmentation for a given ``seed``
            (unshuffled datasets always keep the manifest's order).
        classes: class names in order (default: the manifest's).
        skip_bad: leave unreadable files out (listed in ``bad_file_report``)
            instead of raising :class:`BadFilesError`.

    The dataset has ``class_names`` and ``num_examples`` attributes.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    manifest = source if isinstance(source, Manifest) else load_any(source, classes=classes)
    if classes is not None and list(classes) != manifest.classes:
        manifest = Manifest(manifest.records, classes, manifest.root, manifest.meta)
    if split is not None:
        manifest = manifest.subset(split)
    if not manifest.records:
        raise ValueError(f"No images in split {split!r} of the manifest")
    manifest, infos = check_files(manifest, skip_bad=skip_bad, report_path=bad_file_report)

    paths = [str(manifest.resolve(r)) for r in manifest.records]
    decoders = [_NATIVE.get((infos[p].format, infos[p].mode), _PYTHON) for p in paths]
    labels = [manifest.label_index(r["label"]) for r in manifest.records]
    num_classes = len(manifest.classes)
    if shuffle is None:
        shuffle = split == "train"
    # Unshuffled datasets keep manifest order (evaluation aligns predictions with paths).
    ordered = bool(deterministic or not shuffle)
    augmentation = get_augmentation(augment, image_size, seed=seed if deterministic else None)
    load_size = augmentation.load_size

    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(paths), np.asarray(decoders, np.int32), np.asarray(labels, np.int32))
    )
    if shuffle and not cache:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.map(
        lambda p, d, y: (load_image(p, d, load_size), y),
        num_parallel_calls=AUTOTUNE,
        deterministic=ordered,
    )
    if cache:
        dataset = dataset.cache("" if cache == "memory" else os.fspath(cache))
        if shuffle:
            dataset = dataset.shuffle(min(len(paths), 20000), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def to_model_input(images, y):
        images = tf.cast(images, tf.float32) / 255.0
        if augmentation.layers or channels == 3:
            images = tf.repeat(images, 3, axis=-1)
        if augmentation.layers:
            images = augmentation(images, training=True)
            if load_size != image_size:
                images = tf.image.resize_with_crop_or_pad(images, image_size, image_size)
        if channels == 1 and images.shape[-1] != 1:
            images = tf.reduce_mean(images, axis=-1, keepdims=True)
        images.set_shape([None, image_size, image_size, channels])
        return images, tf.one_hot(y, num_classes)

    # The augmentation layers draw from a stateful seed counter: parallel calls may take its values in any
    # order, so deterministic mode runs them one batch at a time (found when oneDNN changed the timing).
    sequential = deterministic and bool(augmentation.layers)
    dataset = dataset.map(to_model_input, num_parallel_calls=None if sequential else AUTOTUNE, deterministic=ordered)
    options = tf.data.Options()
    options.deterministic = ordered
    dataset = dataset.with_options(options).prefetch(AUTOTUNE)
    dataset.class_names = list(manifest.classes)
    dataset.num_examples = len(paths)
    return dataset
