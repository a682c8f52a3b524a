"""The one preprocessing definition: an image file -> the uint8 grayscale image a model sees.

Decode (:func:`keras_cxr.data.decode.read_image`: one intensity policy for
every format) -> optional total-variation denoising of the full-resolution image
(Li et al. 2023, section 2.2: a recipe's ``data.denoise: tv``) -> resize the float
image with Pillow's antialiased bilinear filter to ``load_size`` -> centre crop to
``image_size`` -> round to uint8.

The tf.data pipeline, ``evaluate``, ``explain``, ``predict`` (Keras, SavedModel
and the TensorFlow-free ``.tflite`` path) and ``export`` all call this object,
so no two code paths can disagree about a pixel (torchxrayvision #89, COVID-Net
#102 are this failure elsewhere). NumPy and Pillow only (scikit-image to denoise).

Train-time geometry equals test-time geometry: a preset that random-crops
``image_size`` out of a ``load_size`` image (Zhong 2020's 96 -> 80, Cheng et
al.'s 256 -> 224) is evaluated on the centre ``image_size`` crop of the same
``load_size`` image (timm's ``crop_pct``), so lungs have the same size in
pixels in training and at test. The converter is saved with every run
(``preprocessing.json``) and every export (``labels.json``).
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from keras_cxr.data import transforms
from keras_cxr.data.decode import read_image, read_image_bytes

CONFIG_FILE = "preprocessing.json"


@dataclasses.dataclass(frozen=True)
class ImageConverter:
    """``image_size``: the model's input; ``load_size`` (>= image_size): the size before the centre crop.

    ``denoise="tv"`` denoises every decoded image before resizing (``denoise_weight``: the TV weight;
    ``anscombe``: Poisson -> Gaussian stabilisation first, Thanh et al. 2020), so training,
    evaluation, explanation and prediction all see the same denoised pixels.
    """

    image_size: int
    load_size: int = None
    denoise: str = None
    denoise_weight: float = 0.05
    anscombe: bool = False

    def __post_init__(self):
        if self.load_size is None:
            object.__setattr__(self, "load_size", int(self.image_size))
        object.__setattr__(self, "image_size", int(self.image_size))
        object.__setattr__(self, "load_size", int(self.load_size))
        if self.image_size < 1 or self.load_size < self.image_size:
            raise ValueError(f"Need 1 <= image_size <= load_size, got {self.image_size} and {self.load_size}")
        if self.denoise not in (None, "tv"):
            raise ValueError(f"denoise must be None or 'tv', got {self.denoise!r}")
        object.__setattr__(self, "denoise_weight", float(self.denoise_weight))
        object.__setattr__(self, "anscombe", bool(self.anscombe))

    @property
    def crop_fraction(self):
        """Share of each side kept by the centre crop (timm's ``crop_pct``)."""
        return self.image_size / self.load_size

    # -- steps -------------------------------------------------------------------------------------------
    @staticmethod
    def resize(image, size):
        """A float [0, 1] 2-D image -> float32 (size, size), Pillow bilinear with antialiasing."""
        return transforms.resize(image, size)

    def centre_crop(self, image):
        """The central ``image_size`` square of a ``load_size`` image (offsets as tf.image's centre crop)."""
        offset = (self.load_size - self.image_size) // 2
        return image[offset:offset + self.image_size, offset:offset + self.image_size]

    def denoised(self, image):
        """The decoded image, TV-denoised when the recipe asks for it (before any resize, as the paper does)."""
        if self.denoise != "tv":
            return image
        return transforms.tv_denoise(image, self.denoise_weight, anscombe_transform=self.anscombe)

    @staticmethod
    def to_uint8(image):
        return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)

    def crop_box(self, shape):
        """(top, left, bottom, right) of the region of an (H, W) original that the model sees."""
        height, width = shape[:2]
        offset = (self.load_size - self.image_size) // 2
        scale_y, scale_x = height / self.load_size, width / self.load_size
        return (int(round(offset * scale_y)), int(round(offset * scale_x)),
                int(round((offset + self.image_size) * scale_y)), int(round((offset + self.image_size) * scale_x)))

    # -- whole conversions -------------------------------------------------------------------------------
    def load(self, path):
        """A file -> uint8 (load_size, load_size, 1): what the training pipeline caches before random crops."""
        return self.to_uint8(self.resize(self.denoised(read_image(path)), self.load_size))[..., None]

    def convert_array(self, gray):
        """A decoded float [0, 1] 2-D image -> uint8 (image_size, image_size, 1): the model's view."""
        return self.to_uint8(self.centre_crop(self.resize(self.denoised(gray), self.load_size)))[..., None]

    def __call__(self, path):
        """A file -> uint8 (image_size, image_size, 1): evaluation, explanation, prediction, export."""
        return self.convert_array(read_image(path))

    def convert_bytes(self, data, name):
        """A file's bytes -> the same uint8 view as ``self(name)`` (Beam and object-store readers hold bytes)."""
        return self.convert_array(read_image_bytes(data, name))

    # -- persistence -------------------------------------------------------------------------------------
    def get_config(self):
        config = {"image_size": self.image_size, "load_size": self.load_size, "resize": "pillow_bilinear_antialias",
                  "crop": "centre", "intensity": "stored_bit_depth", "dtype": "uint8", "channels": 1}
        if self.denoise:  # only when used, so the records (and cache names) of other runs stay as they were
            config["denoise"] = {"method": self.denoise, "weight": self.denoise_weight, "anscombe": self.anscombe}
        return config

    @classmethod
    def from_config(cls, config):
        denoise = config.get("denoise") or {}
        return cls(int(config["image_size"]), int(config.get("load_size") or config["image_size"]),
                   denoise=denoise.get("method"), denoise_weight=denoise.get("weight", 0.05),
                   anscombe=denoise.get("anscombe", False))

    def save(self, folder):
        path = Path(folder) / CONFIG_FILE
        path.write_text(json.dumps(self.get_config(), indent=2) + "\n")
        return path


def converter_for(model_file, image_size):
    """The converter saved beside ``model_file`` (a run's ``preprocessing.json``), else a plain resize."""
    path = Path(model_file).parent / CONFIG_FILE
    if path.is_file():
        converter = ImageConverter.from_config(json.loads(path.read_text()))
        if converter.image_size != int(image_size):
            raise ValueError(f"{path} is for {converter.image_size} px inputs, the model takes {image_size}")
        return converter
    return ImageConverter(int(image_size))


def exported_converter(labels, image_size):
    """The converter an export recorded in its ``labels.json`` (a plain resize for exports without one)."""
    config = (labels or {}).get("preprocessing")
    return ImageConverter.from_config(config) if config else ImageConverter(int(image_size))
