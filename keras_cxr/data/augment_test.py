import numpy as np
import pytest
import tensorflow as tf

from keras_cxr.data.augment import PRESETS, get_augmentation


@pytest.mark.parametrize("name", PRESETS)
def test_preset_keeps_shape_and_value_range(name):
    augmentation = get_augmentation(name, 64, seed=1)
    assert augmentation.load_size >= 64
    images = tf.constant(np.random.RandomState(0).rand(4, augmentation.load_size, augmentation.load_size, 3),
                         tf.float32)
    out = augmentation(images, training=True).numpy()
    assert out.shape == (4, 64, 64, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0
    if name != "none":
        assert augmentation.layers


def test_zhong2020_crop_crops_80_from_96():
    assert get_augmentation("zhong2020_crop", 80).load_size == 96
    assert get_augmentation("zhong2020", 80).load_size == 80


def test_unknown_preset():
    with pytest.raises(ValueError, match="zhong2020"):
        get_augmentation("autoaugment", 64)


@pytest.mark.parametrize("name", [p for p in PRESETS if p not in ("none", "randaugment")])
def test_every_layer_draws_from_its_own_seed(name):
    # Keras random layers with equal seeds draw equal numbers: flips would always come with the same shift.
    layers = get_augmentation(name, 64, seed=7).layers
    seeds = [layer.seed for layer in layers if getattr(layer, "seed", None) is not None]
    assert len(seeds) >= 2 and len(set(seeds)) == len(seeds)


def test_fixed_seed_repeats_and_another_seed_differs():
    images = tf.constant(np.random.RandomState(0).rand(8, 96, 96, 3), tf.float32)

    def run(seed):
        return get_augmentation("zhong2020_crop", 80, seed=seed)(images, training=True).numpy()

    np.testing.assert_array_equal(run(3), run(3))
    assert np.abs(run(3) - run(4)).max() > 0.05


def test_zhong2020_contrast_stays_near_the_original():
    # The former translation of the script drew contrast factors down to 0.1 (a nearly flat image).
    contrast = [layer for layer in get_augmentation("zhong2020", 80, seed=0).layers
                if type(layer).__name__ == "RandomContrast"][0]
    ramp = tf.constant(np.tile(np.linspace(0.2, 0.8, 80, dtype=np.float32), (64, 80, 1))[..., None])
    out = contrast(tf.repeat(ramp, 3, axis=-1), training=True).numpy()
    spread = out[..., 0].max(axis=(1, 2)) - out[..., 0].min(axis=(1, 2))
    assert 0.6 * 0.8 - 1e-3 <= spread.min() and spread.max() <= 0.6 * 1.2 + 1e-3
