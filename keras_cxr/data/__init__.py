"""Data: dataset adapters -> manifests -> patient-grouped splits -> tf.data pipelines.

>>> from keras_cxr.data import build_manifest, split_manifest, make_dataset
>>> manifest = build_manifest("COVID-19_Radiography_Dataset", layout="covid19_radiography")
>>> manifest = split_manifest(manifest, val=0.2, seed=0)
>>> train = make_dataset(manifest, "train", image_size=224, augment="li_convnext")

Every name is imported on first use (``make_dataset`` needs TensorFlow; the
rest plain Python, NumPy, Pillow, pydicom, SciPy and scikit-image).
"""

import importlib

# name -> (module, attribute): imported on first use, so ``from keras_cxr.data.augment import PRESETS``
# (the training config's schema) does not import SciPy, scikit-image and every adapter with it.
_EXPORTS = {
    "AUGMENTATIONS": ("keras_cxr.data.augment", "PRESETS"),
    "get_augmentation": ("keras_cxr.data.augment", "get_augmentation"),
    "check_dataset": ("keras_cxr.data.check", "check_dataset"),
    "ImageDecodeError": ("keras_cxr.data.decode", "ImageDecodeError"),
    "read_image": ("keras_cxr.data.decode", "read_image"),
    "ImageConverter": ("keras_cxr.data.image_converter", "ImageConverter"),
    "BadFilesError": ("keras_cxr.data.integrity", "BadFilesError"),
    "scan_files": ("keras_cxr.data.integrity", "scan_files"),
    "Manifest": ("keras_cxr.data.manifest", "Manifest"),
    "format_counts": ("keras_cxr.data.manifest", "format_counts"),
    "read_manifest": ("keras_cxr.data.manifest", "read_manifest"),
    "make_dataset": ("keras_cxr.data.pipeline", "make_dataset"),
    "PreprocessOptions": ("keras_cxr.data.preprocess", "PreprocessOptions"),
    "preprocess_folder": ("keras_cxr.data.preprocess", "preprocess_folder"),
    "preprocess_image": ("keras_cxr.data.preprocess", "preprocess_image"),
    "LAYOUTS": ("keras_cxr.data.sources", "LAYOUTS"),
    "build_manifest": ("keras_cxr.data.sources", "build_manifest"),
    "load_any": ("keras_cxr.data.sources", "load_any"),
    "carve_validation": ("keras_cxr.data.splits", "carve_validation"),
    "patient_folds": ("keras_cxr.data.splits", "patient_folds"),
    "patient_leaks": ("keras_cxr.data.splits", "patient_leaks"),
    "split_manifest": ("keras_cxr.data.splits", "split_manifest"),
    "subsample_train": ("keras_cxr.data.splits", "subsample_train"),
    "generate_dataset": ("keras_cxr.data.synthetic", "generate_dataset"),
    "synthetic_cxr": ("keras_cxr.data.synthetic", "synthetic_cxr"),
}


def __getattr__(name):
    if name == "labels":
        return importlib.import_module("keras_cxr.data.labels")
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keras_cxr.data' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS) + ["labels"])


__all__ = [
    "AUGMENTATIONS",
    "BadFilesError",
    "ImageConverter",
    "ImageDecodeError",
    "LAYOUTS",
    "Manifest",
    "PreprocessOptions",
    "build_manifest",
    "carve_validation",
    "check_dataset",
    "format_counts",
    "generate_dataset",
    "get_augmentation",
    "labels",
    "load_any",
    "make_dataset",
    "patient_folds",
    "patient_leaks",
    "preprocess_folder",
    "preprocess_image",
    "read_image",
    "read_manifest",
    "scan_files",
    "split_manifest",
    "subsample_train",
    "synthetic_cxr",
]
