"""The faster ConvNeXt building blocks compute what the Keras layers they replace compute."""

import numpy as np
import pytest
import keras
from keras import layers

from keras_cxr.layers import ChannelLayerNormalization, GroupedDepthwiseConv2D, PointwiseDense, exact_gelu


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _outputs_and_gradients(layer, x, training):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(tf.sin(y) * y)  # a non-trivial upstream gradient
    grads = tape.gradient(loss, [x] + layer.trainable_weights)
    return _np(y), [_np(g) for g in grads]


def _assert_same(a, b, rtol=1e-4, atol=1e-5):
    ya, ga = a
    yb, gb = b
    np.testing.assert_allclose(ya, yb, rtol=rtol, atol=atol)
    assert len(ga) == len(gb)
    for p, q in zip(ga, gb):
        np.testing.assert_allclose(p, q, rtol=rtol, atol=atol * max(1.0, float(np.abs(q).max())))


def test_grouped_depthwise_conv_equals_grouped_conv2d_with_the_same_weights():
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 6)).astype("float32")
    ref = layers.Conv2D(6, 7, padding="same", groups=6)
    fast = GroupedDepthwiseConv2D(6, 7, padding="same", groups=6)
    ref.build(x.shape)
    fast.build(x.shape)
    assert [tuple(w.shape) for w in fast.weights] == [(7, 7, 1, 6), (6,)]
    fast.set_weights([np.random.default_rng(1).normal(size=w.shape) for w in ref.weights])
    ref.set_weights(fast.get_weights())
    _assert_same(_outputs_and_gradients(fast, x, True), _outputs_and_gradients(ref, x, True))
    strided = GroupedDepthwiseConv2D(6, 3, strides=2, groups=6)
    ref_strided = layers.Conv2D(6, 3, strides=2, groups=6)
    ref_strided.build(x.shape)
    strided.build(x.shape)
    strided.set_weights(ref_strided.get_weights())
    np.testing.assert_allclose(_np(strided(x)), _np(ref_strided(x)), atol=1e-5)


def test_grouped_depthwise_conv_rejects_other_groupings():
    with pytest.raises(ValueError, match="groups == filters == input channels"):
        GroupedDepthwiseConv2D(8, 3, groups=4).build((None, 5, 5, 8))


def test_exact_gelu_is_keras_erf_gelu():
    x = np.linspace(-8, 8, 2001, dtype="float32")
    expected = _np(keras.activations.gelu(x, approximate=False))
    np.testing.assert_allclose(_np(exact_gelu(x)), expected, atol=1e-6)
    assert keras.activations.get(keras.activations.serialize(exact_gelu)) is exact_gelu


@pytest.mark.parametrize("shape", [(2, 5, 5, 8), (3, 8)])
def test_pointwise_dense_equals_dense_then_gelu(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    fast = PointwiseDense(12, activation=exact_gelu)
    fast.build(shape)
    dense = layers.Dense(12)
    dense.build(shape)
    dense.set_weights(fast.get_weights())
    ref = keras.Sequential([keras.Input(shape[1:]), dense, layers.Activation("gelu")])
    _assert_same(_outputs_and_gradients(fast, x, True), _outputs_and_gradients(ref, x, True))
    assert _np(fast(x)).shape == shape[:-1] + (12,)


@pytest.mark.parametrize("training", [False, True])
def test_channel_layer_norm_matches_keras_outputs_and_gradients(training):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(2, 4, 4, 16)).astype("float32")
    fast = ChannelLayerNormalization(epsilon=1e-6)
    ref = layers.LayerNormalization(epsilon=1e-6)
    fast.build(x.shape)
    ref.build(x.shape)
    rng = np.random.default_rng(1)
    fast.set_weights([rng.normal(size=w.shape).astype("float32") for w in fast.weights])
    ref.set_weights(fast.get_weights())
    _assert_same(_outputs_and_gradients(fast, x, training), _outputs_and_gradients(ref, x, training))


def test_channel_layer_norm_other_axes_fall_back_to_keras():
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    fast = ChannelLayerNormalization(axis=[1, 2])
    ref = layers.LayerNormalization(axis=[1, 2])
    np.testing.assert_allclose(_np(fast(x, training=True)), _np(ref(x, training=True)), atol=1e-5)


def test_fast_layers_round_trip_through_keras_files(tmp_path):
    inputs = keras.Input((6, 6, 4))
    x = GroupedDepthwiseConv2D(4, 3, padding="same", groups=4)(inputs)
    x = ChannelLayerNormalization(epsilon=1e-6)(x)
    x = PointwiseDense(8, activation=exact_gelu)(x)
    model = keras.Model(inputs, PointwiseDense(4)(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).random((2, 6, 6, 4), dtype="float32")
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
