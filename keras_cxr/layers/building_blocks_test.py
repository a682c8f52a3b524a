import numpy as np
import pytest
import keras
import tensorflow as tf

from keras_cxr.layers import ChannelSlice, DropPath, GrayscaleToRGB, ImageNormalization, LayerScale, ScaleAttentionFusion


def _np(x):
    return keras.ops.convert_to_numpy(x)


def test_drop_path_is_identity_at_inference_and_drops_whole_samples_in_training():
    x = np.ones((64, 4, 4, 3), "float32")
    layer = DropPath(0.5, seed=1)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    y = _np(layer(x, training=True))
    per_sample = y.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert np.all(per_sample.min(axis=1) == per_sample.max(axis=1))
    assert 0 < (per_sample[:, 0] == 0).sum() < 64


def test_drop_path_rejects_bad_rate():
    with pytest.raises(ValueError):
        DropPath(1.0)


def test_layer_scale_has_keras_applications_weight_shape():
    layer = LayerScale(1e-6)
    y = _np(layer(np.ones((1, 2, 2, 5), "float32")))
    assert [tuple(w.shape) for w in layer.weights] == [(5,)]
    np.testing.assert_allclose(y, 1e-6)


def test_grayscale_to_rgb_copies_the_channel():
    x = np.random.rand(2, 4, 4, 1).astype("float32")
    y = _np(GrayscaleToRGB()(x))
    assert y.shape == (2, 4, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(y[..., c], x[..., 0])


def test_image_normalization_modes():
    rgb = np.array([[[[0.485, 0.456, 0.406]]]], "float32")
    np.testing.assert_allclose(_np(ImageNormalization("imagenet")(rgb)), 0.0, atol=1e-6)
    caffe = _np(ImageNormalization("caffe")(np.array([[[[1.0, 0.0, 0.0]]]], "float32")))
    # red goes last (BGR) and the BGR mean is subtracted.
    np.testing.assert_allclose(caffe[0, 0, 0], [-103.939, -116.779, 255.0 - 123.68], atol=1e-3)
    np.testing.assert_allclose(_np(ImageNormalization("tf")(np.array([[[[0.0, 0.5, 1.0]]]], "float32"))), [[[[-1, 0, 1]]]])
    np.testing.assert_allclose(_np(ImageNormalization("scale255")(np.ones((1, 1, 1, 1), "float32"))), 255.0)
    with pytest.raises(ValueError, match="imagenet"):
        ImageNormalization("zscore")


def test_channel_slice():
    x = np.arange(10, dtype="float32").reshape(1, 1, 1, 10)
    np.testing.assert_array_equal(_np(ChannelSlice(2, 5)(x)), [[[[2, 3, 4]]]])
    np.testing.assert_array_equal(_np(ChannelSlice(8)(x)), [[[[8, 9]]]])
    assert ChannelSlice.from_config(ChannelSlice(2, 5).get_config()).stop == 5


@pytest.mark.parametrize("start, stop", [(0, 3), (3, None), (2, 7), (0, None), (-4, None), (1, -2), (-6, -1), (5, 5)])
def test_channel_slice_equals_python_slicing_values_shape_and_gradient(start, stop):
    x = np.random.default_rng(0).normal(size=(2, 3, 3, 10)).astype("float32")
    layer = ChannelSlice(start, stop)
    expected = x[..., start:stop]
    np.testing.assert_array_equal(_np(layer(x)), expected)
    np.testing.assert_array_equal(_np(layer(x, training=True)), expected)
    assert layer.compute_output_shape((None, 3, 3, 10)) == (None, 3, 3, expected.shape[-1])
    assert tuple(layer(keras.KerasTensor((None, 3, 3, 10))).shape) == (None, 3, 3, expected.shape[-1])
    weights = np.random.default_rng(1).normal(size=expected.shape).astype("float32")
    gradient = tf.GradientTape()
    tensor = tf.constant(x)
    with gradient:
        gradient.watch(tensor)
        loss = tf.reduce_sum(layer(tensor, training=True) * weights)
    expected_gradient = np.zeros_like(x)
    expected_gradient[..., start:stop] = weights
    np.testing.assert_array_equal(gradient.gradient(loss, tensor).numpy(), expected_gradient)


def _op_types(layer, training):
    spec = tf.TensorSpec((None, 3, 3, 10))
    graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(spec).graph
    return {op.type for op in graph.get_operations()}


def test_channel_slice_splits_in_training_and_slices_at_inference():
    """A split's gradient is cheap on the CPU; a slice is what LiteRT's XNNPACK runs."""
    layer = ChannelSlice(2, 7)
    assert "SplitV" in _op_types(layer, True)
    assert "StridedSlice" in _op_types(layer, False) and "SplitV" not in _op_types(layer, False)


def test_scale_attention_fusion_mixes_equal_width_vectors():
    vectors = [np.full((2, 4), v, "float32") for v in (1.0, 2.0, 3.0)]
    layer = ScaleAttentionFusion()
    y = _np(layer(vectors))
    assert y.shape == (2, 16)
    assert np.all((y[:, :4] >= 1.0) & (y[:, :4] <= 3.0))  # a convex mixture
    np.testing.assert_array_equal(y[:, 4:], np.concatenate(vectors, axis=-1))
    with pytest.raises(ValueError, match="equal widths"):
        ScaleAttentionFusion()([np.ones((1, 4), "float32"), np.ones((1, 5), "float32")])
