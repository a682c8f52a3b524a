"""Augmentation presets: the papers' recipes as ``keras.layers`` random layers.

Each preset is a list of Keras preprocessing layers applied to batches of
[0, 1] images inside the tf.data pipeline (on the CPU, overlapping training),
plus the size images are loaded at before augmentation (a random crop needs a
larger source). Presets leave shape and value range unchanged.

Evaluation sees the same geometry: :meth:`Augmentation.converter` gives the
:class:`~keras_cxr.data.image_converter.ImageConverter` that loads at the
preset's load size and centre-crops, so a random 80 crop of a 96 image is
tested on the centre 80 crop of a 96 image, not on the whole image squeezed
to 80 (which would make lungs 20% smaller at test than in training).

Every layer of a preset draws from its own seed (``seed + position``): Keras
random layers built with equal seeds draw equal numbers, which would tie, say,
every flip to the darkest brightness shift.

Where Keras' layer differs from a paper's script, the docstring of the preset
says how; saturation changes are left out throughout because a grayscale image
copied to three channels has no saturation to change.

Zhong 2020 (section 3.2; values from the author's training script) comes in three
presets: ``zhong2020_script`` is the script as written (resize to 96, random 80
crop, horizontal flip, brightness delta 0.1, ``tf.image.random_contrast`` with
factors in [0.1, 0.2] through :class:`~keras_cxr.layers.RandomContrastRange`);
``zhong2020`` (the recipe's default) jitters the whole image with contrast
factors in [0.8, 1.2] and no crop; ``zhong2020_crop`` is ``zhong2020`` after the
script's 96 -> 80 crop. docs/BENCHMARKS.md has what each costs on real X-rays.
"""

import dataclasses

PRESETS = ("none", "zhong2020", "zhong2020_crop", "zhong2020_script", "cheng_dpn", "li_convnext", "chen_resnet_ct",
           "randaugment")


@dataclasses.dataclass
class Augmentation:
    """``layers`` to apply in order after loading at ``load_size`` (>= the output size)."""

    name: str
    load_size: int
    layers: list

    def converter(self, image_size):
        """The file -> model-input conversion whose geometry matches this preset's training crops."""
        from keras_cxr.data.image_converter import ImageConverter

        return ImageConverter(image_size, self.load_size)

    def __call__(self, images, training=True):
        """Runs inside tf.data under every Keras backend: the layers switch to TensorFlow ops there, so the clip is
        TensorFlow's too (``keras.ops`` would be JAX's under ``KERAS_BACKEND=jax``)."""
        import tensorflow as tf

        for layer in self.layers:
            images = layer(images, training=training)
        return tf.clip_by_value(images, 0.0, 1.0)


def _zhong2020(size, seeds):
    """Zhong 2020 (section 3.2, the author's script): horizontal flip, brightness +-0.1, contrast [0.8, 1.2].

    The whole image is resized to the input; the script's 96 -> 80 random crop is
    ``zhong2020_crop``. Measured on the real development set (1,270 X-rays, 4
    classes, the paper's 12-epoch schedule, ``benchmarks/real_cxr.py``), the
    crop cost 6-10 points of held-out accuracy (0.654 and 0.613 with it, 0.717
    without; no augmentation 0.725) even with test-time geometry matched.
    Contrast: the script calls ``tf.image.random_contrast(lower=0.1, upper=0.2)``,
    which scales every training image's contrast by 0.1-0.2 while test images
    keep theirs; here its 0.2 is the jitter magnitude ([0.8, 1.2]). The script
    as written is ``zhong2020_script``.
    """
    from keras import layers

    return size, [
        layers.RandomFlip("horizontal", seed=next(seeds)),
        layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=next(seeds)),
        layers.RandomContrast(0.2, value_range=(0.0, 1.0), seed=next(seeds)),
    ]


def _zhong2020_crop(size, seeds):
    """Zhong 2020's script in full: resize to 96, random 80 crop, then ``zhong2020``'s flip and jitter.

    Evaluated on the centre 80 crop of the 96 image (same geometry as training).
    """
    from keras import layers

    _, jitter = _zhong2020(size, seeds)
    return int(round(size * 96 / 80)), [layers.RandomCrop(size, size, seed=next(seeds))] + jitter


def _zhong2020_script(size, seeds):
    """Zhong 2020's training script as written: resize to 96, random 80 crop, flip, brightness 0.1, contrast [0.1, 0.2].

    The script's ``tf.image.random_contrast(image, lower=0.1, upper=0.2)`` draws a factor in [0.1, 0.2]
    per image and pulls every pixel towards the image's mean by it (training images keep 10-20% of their
    contrast; test images keep all of theirs): :class:`~keras_cxr.layers.RandomContrastRange`, which
    Keras' ``RandomContrast`` (factors in [1 - f, 1 + f]) cannot express. Its ``random_saturation(0, 5)``
    is left out: a grayscale X-ray copied to three channels has no saturation. Brightness: Keras'
    ``RandomBrightness(0.1)`` adds a delta in [-0.1, 0.1] as ``tf.image.random_brightness(0.1)``, then
    clips to [0, 1]. Evaluated on the centre 80 crop of the 96 image (the training geometry).
    Measured on the real development set (docs/BENCHMARKS.md, three seeds at the paper's 12-epoch
    schedule) it scored 0.511 held-out accuracy against 0.710 for ``zhong2020``; the contrast range, not
    the crop, is the cost (0.512 without the crop), so ``zhong2020`` stays the recipe's default.
    """
    from keras import layers

    from keras_cxr.layers.random_contrast_range import RandomContrastRange

    return int(round(size * 96 / 80)), [
        layers.RandomCrop(size, size, seed=next(seeds)),
        layers.RandomFlip("horizontal", seed=next(seeds)),
        layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=next(seeds)),
        RandomContrastRange(0.1, 0.2, value_range=(0.0, 1.0), seed=next(seeds)),
    ]


def _cheng_dpn(size, seeds):
    """Cheng et al. (DPN-SENet, augmentation section): scale, random crop to 224, then flip, rotation and scaling (affine).

    The paper gives no angles or scales; +-10 degrees and +-10% are used, and
    the crop comes from a 256/224 larger resize (the ImageNet convention).
    """
    from keras import layers

    return int(round(size * 256 / 224)), [
        layers.RandomCrop(size, size, seed=next(seeds)),
        layers.RandomFlip("horizontal", seed=next(seeds)),
        layers.RandomRotation(10 / 360, fill_mode="constant", seed=next(seeds)),
        layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=next(seeds)),
    ]


def _li_convnext(size, seeds):
    """Li et al. 2023 (ConvNeXt-AT, section 2.2): flip, crop and padding: pad by 1/16 on each side, random crop back, flip."""
    from keras import layers

    from keras_cxr.layers.zero_pad_images import ZeroPadImages

    pad = max(size // 16, 1)
    return size, [
        ZeroPadImages(pad),  # keras.layers.ZeroPadding2D, safe in tf.data under JAX and PyTorch
        layers.RandomCrop(size, size, seed=next(seeds)),
        layers.RandomFlip("horizontal", seed=next(seeds)),
    ]


def _chen_resnet_ct(size, seeds):
    """Chen et al. (improved ResNet50, CT; augmentation section): horizontal/vertical flips, rotation, colour jitter, affine (shear, translation, scale).

    Magnitudes are not in the paper: +-15 degrees, jitter 0.2, shear 0.1,
    translation 0.1, scale +-10%. A CT recipe: vertical flips give X-rays no
    patient has, and on real chest X-rays (docs/BENCHMARKS.md) it cost 12
    points of accuracy and 34 of COVID-19 sensitivity against no augmentation
    at Zhong 2020's 12-epoch schedule.
    """
    from keras import layers

    return size, [
        layers.RandomFlip("horizontal_and_vertical", seed=next(seeds)),
        layers.RandomRotation(15 / 360, fill_mode="constant", seed=next(seeds)),
        layers.RandomColorJitter(
            value_range=(0.0, 1.0), brightness_factor=0.2, contrast_factor=0.2, seed=next(seeds)
        ),
        layers.RandomShear(0.1, 0.1, fill_mode="constant", seed=next(seeds)),
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=next(seeds)),
        layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=next(seeds)),
    ]


def _randaugment(size, seeds):
    """Keras' RandAugment (Cubuk et al. 2020): two random operations per image."""
    from keras import layers

    return size, [layers.RandAugment(value_range=(0.0, 1.0), num_ops=2, factor=0.5, seed=next(seeds))]


_BUILDERS = {
    "none": lambda size, seeds: (size, []),
    "zhong2020": _zhong2020,
    "zhong2020_crop": _zhong2020_crop,
    "zhong2020_script": _zhong2020_script,
    "cheng_dpn": _cheng_dpn,
    "li_convnext": _li_convnext,
    "chen_resnet_ct": _chen_resnet_ct,
    "randaugment": _randaugment,
}


def get_augmentation(name, image_size, seed=None):
    """The preset ``name`` for output size ``image_size``."""
    if name is None:
        name = "none"
    if name not in _BUILDERS:
        raise ValueError(f"Unknown augmentation {name!r}. Valid choices: {list(PRESETS)}")
    load_size, layer_list = _BUILDERS[name](int(image_size), _layer_seeds(seed))
    return Augmentation(name, load_size, layer_list)


def _layer_seeds(seed):
    """A distinct seed per layer (``seed``, ``seed + 1``, ...); None stays None (Keras draws one per layer)."""
    position = 0
    while True:
        yield None if seed is None else int(seed) + position
        position += 1
