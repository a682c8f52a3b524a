"""Augmentation presets: the papers' recipes as ``keras.layers`` random layers.

Each preset is a list of Keras preprocessing layers applied to batches of
[0, 1] images inside the tf.data pipeline (on the CPU, overlapping training),
plus the size images are loaded at before augmentation (a random crop needs a
larger source). Presets leave shape and value range unchanged.

Where Keras' layer differs from a paper's script, the docstring of the preset
says how; saturation changes are left out throughout because a grayscale image
copied to three channels has no saturation to change.
"""

import dataclasses

PRESETS = ("none", "zhong2020", "cheng_dpn", "li_convnext", "chen_resnet_ct", "randaugment")


@dataclasses.dataclass
class Augmentation:
    """``layers`` to apply in order after loading at ``load_size`` (>= the output size)."""

    name: str
    load_size: int
    layers: list

    def __call__(self, images, training=True):
        for layer in self.layers:
            images = layer(images, training=training)
        import keras

        return keras.ops.clip(images, 0.0, 1.0)


def _zhong2020(size, seed):
    """Seed 002's script: resize to 96, random 80 crop, horizontal flip, brightness 0.1, contrast.

    The script's ``tf.image.random_contrast(0.1, 0.2)`` draws a factor in
    [0.1, 0.2]; Keras' RandomContrast draws in [1 - lower, 1 + upper] with
    non-negative bounds, so (0.9, 0.0) gives [0.1, 1.0], which holds the
    script's range.
    """
    from keras import layers

    load = int(round(size * 96 / 80))
    return load, [
        layers.RandomCrop(size, size, seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomBrightness(0.1, value_range=(0.0, 1.0), seed=seed),
        layers.RandomContrast((0.9, 0.0), value_range=(0.0, 1.0), seed=seed),
    ]


def _cheng_dpn(size, seed):
    """Seed 003: scale, random crop to 224, then flip, rotation and scaling (affine).

    The paper gives no angles or scales; +-10 degrees and +-10% are used, and
    the crop comes from a 256/224 larger resize (the ImageNet convention).
    """
    from keras import layers

    return int(round(size * 256 / 224)), [
        layers.RandomCrop(size, size, seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(10 / 360, fill_mode="constant", seed=seed),
        layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=seed),
    ]


def _li_convnext(size, seed):
    """Seed 000: flip, crop and padding: pad by 1/16 on each side, random crop back, flip."""
    from keras import layers

    pad = max(size // 16, 1)
    return size, [
        layers.ZeroPadding2D(pad),
        layers.RandomCrop(size, size, seed=seed),
        layers.RandomFlip("horizontal", seed=seed),
    ]


def _chen_resnet_ct(size, seed):
    """Seed 004: horizontal/vertical flips, rotation, colour jitter, affine (shear, translation, scale).

    Magnitudes are not in the paper: +-15 degrees, jitter 0.2, shear 0.1,
    translation 0.1, scale +-10%.
    """
    from keras import layers

    return size, [
        layers.RandomFlip("horizontal_and_vertical", seed=seed),
        layers.RandomRotation(15 / 360, fill_mode="constant", seed=seed),
        layers.RandomColorJitter(
            value_range=(0.0, 1.0), brightness_factor=0.2, contrast_factor=0.2, seed=seed
        ),
        layers.RandomShear(0.1, 0.1, fill_mode="constant", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed),
        layers.RandomZoom((-0.1, 0.1), fill_mode="constant", seed=seed),
    ]


def _randaugment(size, seed):
    """Keras' RandAugment (Cubuk et al. 2020): two random operations per image."""
    from keras import layers

    return size, [layers.RandAugment(value_range=(0.0, 1.0), num_ops=2, factor=0.5, seed=seed)]


_BUILDERS = {
    "none": lambda size, seed: (size, []),
    "zhong2020": _zhong2020,
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
    load_size, layer_list = _BUILDERS[name](int(image_size), seed)
    return Augmentation(name, load_size, layer_list)
