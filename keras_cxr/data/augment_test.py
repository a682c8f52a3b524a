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


def test_zhong2020_crops_80_from_96():
    assert get_augmentation("zhong2020", 80).load_size == 96


def test_unknown_preset():
    with pytest.raises(ValueError, match="zhong2020"):
        get_augmentation("autoaugment", 64)
