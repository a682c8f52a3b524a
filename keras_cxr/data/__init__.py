"""Data: dataset adapters -> manifests -> patient-grouped splits -> tf.data pipelines.

>>> from keras_cxr.data import build_manifest, split_manifest, make_dataset
>>> manifest = build_manifest("COVID-19_Radiography_Dataset", layout="covid19_radiography")
>>> manifest = split_manifest(manifest, val=0.2, seed=0)
>>> train = make_dataset(manifest, "train", image_size=224, augment="li_convnext")

``make_dataset`` is imported lazily (it needs TensorFlow); everything else here
is plain Python, NumPy, Pillow, pydicom and scikit-image.
"""

from keras_cxr.data import labels
from keras_cxr.data.augment import PRESETS as AUGMENTATIONS
from keras_cxr.data.augment import get_augmentation
from keras_cxr.data.check import check_dataset
from keras_cxr.data.decode import ImageDecodeError, read_image
from keras_cxr.data.image_converter import ImageConverter
from keras_cxr.data.integrity import BadFilesError, scan_files
from keras_cxr.data.manifest import Manifest, format_counts, load_any, read_manifest
from keras_cxr.data.preprocess import PreprocessOptions, preprocess_folder, preprocess_image
from keras_cxr.data.sources import LAYOUTS, build_manifest
from keras_cxr.data.splits import carve_validation, patient_folds, patient_leaks, split_manifest, subsample_train
from keras_cxr.data.synthetic import generate_dataset, synthetic_cxr


def __getattr__(name):
    if name == "make_dataset":
        from keras_cxr.data.pipeline import make_dataset

        return make_dataset
    raise AttributeError(f"module 'keras_cxr.data' has no attribute {name!r}")


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
