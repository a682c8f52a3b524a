import importlib.util
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cxr.layers import RandomContrastRange


def _images(batch=6, size=16, channels=3, seed=0):
    return np.random.default_rng(seed).random((batch, size, size, channels), dtype=np.float32)


def _factors(images, out):
    """Each output image's contrast factor: its per-channel deviation from the mean over the input's."""
    deviation_in = images - images.mean(axis=(1, 2), keepdims=True)
    deviation_out = out - out.mean(axis=(1, 2), keepdims=True)
    return (deviation_out * deviation_in).sum(axis=(1, 2, 3)) / (deviation_in**2).sum(axis=(1, 2, 3))


def test_matches_tf_image_contrast_formula_for_a_fixed_factor():
    images = _images()
    out = RandomContrastRange(0.15, 0.15)(images, training=True)
    expected = tf.image.adjust_contrast(images, 0.15)  # what tf.image.random_contrast applies per image
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), expected.numpy(), atol=1e-6)
    # the formula spelled out: per image and channel, (x - mean) * f + mean
    mean = images.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(out), (images - mean) * 0.15 + mean, atol=1e-6)


def test_factors_are_drawn_per_image_within_the_range():
    images = _images(batch=64)
    out = keras.ops.convert_to_numpy(RandomContrastRange(0.1, 0.2, seed=3)(images, training=True))
    factors = _factors(images, out)
    assert factors.min() >= 0.1 - 1e-4 and factors.max() <= 0.2 + 1e-4
    assert factors.max() - factors.min() > 0.05  # drawn per image, not one factor for the batch
    # one factor per image, shared by its channels (tf.image.random_contrast draws one scalar per call)
    per_channel = [_factors(images[..., c:c + 1], out[..., c:c + 1]) for c in range(3)]
    np.testing.assert_allclose(per_channel[0], per_channel[2], atol=1e-4)
    # the per-channel mean is kept
    np.testing.assert_allclose(out.mean(axis=(1, 2)), images.mean(axis=(1, 2)), atol=1e-5)


def test_unbatched_image_and_seed_reproducibility():
    image = _images(batch=1)[0]
    first = keras.ops.convert_to_numpy(RandomContrastRange(0.1, 0.2, seed=5)(image, training=True))
    again = keras.ops.convert_to_numpy(RandomContrastRange(0.1, 0.2, seed=5)(image, training=True))
    assert first.shape == image.shape
    np.testing.assert_array_equal(first, again)
    assert 0.1 - 1e-4 <= _factors(image[None], first[None])[0] <= 0.2 + 1e-4


def test_identity_at_inference():
    images = _images()
    layer = RandomContrastRange(0.1, 0.2, seed=1)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    model = keras.Sequential([keras.Input((16, 16, 3)), layer])
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)


def test_factor_above_one_is_clipped_to_the_value_range():
    images = _images()
    out = keras.ops.convert_to_numpy(RandomContrastRange(3.0, 3.0, value_range=(0, 1))(images, training=True))
    assert out.min() >= 0.0 and out.max() <= 1.0 and (out == 1.0).any()


def test_config_round_trip(tmp_path):
    layer = RandomContrastRange(0.1, 0.2, value_range=(0, 255), seed=7, name="contrast")
    config = layer.get_config()
    assert (config["lower"], config["upper"], tuple(config["value_range"]), config["seed"]) == (0.1, 0.2, (0, 255), 7)
    clone = RandomContrastRange.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, RandomContrastRange) and restored.get_config() == config
    model = keras.Sequential([keras.Input((8, 8, 1)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].get_config() == config


def test_invalid_arguments():
    with pytest.raises(ValueError, match="lower <= upper"):
        RandomContrastRange(0.2, 0.1)
    with pytest.raises(ValueError, match="lower <= upper"):
        RandomContrastRange(-0.1, 0.2)
    with pytest.raises(ValueError, match="value_range"):
        RandomContrastRange(0.1, 0.2, value_range=(1, 0))


def test_works_inside_a_tf_data_map():
    images = _images(batch=12)
    layer = RandomContrastRange(0.1, 0.2, seed=2)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(4).map(lambda x: layer(x, training=True))
    out = np.concatenate([batch.numpy() for batch in dataset])
    assert out.shape == images.shape
    factors = _factors(images, out)
    assert factors.min() >= 0.1 - 1e-4 and factors.max() <= 0.2 + 1e-4
    assert factors.max() - factors.min() > 0.01  # a fresh draw per batch and image, not a traced constant


JAX_SCRIPT = r"""
import os
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras, tensorflow as tf
assert keras.backend.backend() == "jax"
from keras_cxr.layers import RandomContrastRange
images = np.random.default_rng(0).random((12, 16, 16, 3), dtype=np.float32)
layer = RandomContrastRange(0.1, 0.2, seed=2)
ds = tf.data.Dataset.from_tensor_slices(images).batch(4).map(lambda x: layer(x, training=True))
out = np.concatenate([b.numpy() for b in ds])
d_in = images - images.mean(axis=(1, 2), keepdims=True)
d_out = out - out.mean(axis=(1, 2), keepdims=True)
f = (d_out * d_in).sum(axis=(1, 2, 3)) / (d_in ** 2).sum(axis=(1, 2, 3))
assert f.min() >= 0.1 - 1e-4 and f.max() <= 0.2 + 1e-4 and f.max() - f.min() > 0.01, f
eager = np.asarray(layer(images, training=True))
assert 0.1 - 1e-4 <= ((eager - eager.mean(axis=(1, 2), keepdims=True)) * d_in).sum() / (d_in ** 2).sum() <= 0.2 + 1e-4
print("ok")
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is installed by the dev extra")
def test_works_inside_a_tf_data_map_under_jax():
    # Under another backend the layer switches to TensorFlow ops inside tf.data, as Keras' own random layers.
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]
