"""GroupedConv2D computes what ``Conv2D(groups=...)`` computes, and DPN keeps its weights with it."""

import numpy as np
import pytest
import keras
from keras import layers

from keras_cxr.layers import GroupedConv2D
from keras_cxr.models import dpn


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _outputs_and_gradients(layer, x):
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(tf.sin(y) * y)  # a non-trivial upstream gradient
    return [_np(a) for a in [y] + tape.gradient(loss, [x] + layer.trainable_weights)]


def _twins(x_shape, filters, kernel_size, **kwargs):
    """A GroupedConv2D and a Conv2D with the same arguments and the same random weights."""
    fast = GroupedConv2D(filters, kernel_size, **kwargs)
    ref = layers.Conv2D(filters, kernel_size, **kwargs)
    fast.build(x_shape)
    ref.build(x_shape)
    rng = np.random.default_rng(1)
    fast.set_weights([rng.normal(size=w.shape).astype("float32") for w in fast.weights])
    ref.set_weights(fast.get_weights())
    return fast, ref


@pytest.mark.parametrize(
    "channels,filters,groups,strides,padding",
    [(8, 8, 4, 1, "same"), (12, 12, 4, 2, "same"), (8, 16, 2, 1, "same"), (6, 3, 3, 2, "same"), (12, 6, 3, 2, "valid")],
)
def test_grouped_conv_equals_conv2d_groups_outputs_and_gradients(channels, filters, groups, strides, padding):
    x = np.random.default_rng(0).normal(size=(2, 9, 9, channels)).astype("float32")
    fast, ref = _twins(x.shape, filters, 3, strides=strides, padding=padding, groups=groups, use_bias=True)
    assert [(w.path, tuple(w.shape)) for w in fast.weights] == [(w.path.replace(ref.name, fast.name), tuple(w.shape))
                                                                for w in ref.weights]
    got, expected = _outputs_and_gradients(fast, x), _outputs_and_gradients(ref, x)
    assert len(got) == len(expected) == 4  # output, d/dx, d/dkernel, d/dbias
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(b).max())))


def test_grouped_conv_rejects_ungrouped_and_depthwise_groupings():
    with pytest.raises(ValueError, match="needs groups >= 2"):
        GroupedConv2D(8, 3).build((None, 5, 5, 8))
    with pytest.raises(ValueError, match="at least 2 input channels per group"):
        GroupedConv2D(8, 3, groups=8).build((None, 5, 5, 8))


def test_grouped_conv_round_trips_through_keras_files(tmp_path):
    inputs = keras.Input((7, 7, 8))
    model = keras.Model(inputs, GroupedConv2D(8, 3, strides=2, padding="same", groups=4, name="g")(inputs))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.get_layer("g")) is GroupedConv2D
    assert loaded.get_layer("g").get_config() == model.get_layer("g").get_config()
    x = np.random.default_rng(0).random((2, 7, 7, 8), dtype="float32")
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))


def _small_dpn(attention=None):
    """The real DPN builder, one block per stage (proj, then three stride-2 blocks), on a 32x32 input."""
    inputs = keras.Input((32, 32, 3))
    x = dpn.dpn_features(inputs, small=True, stem=10, k_r=128, groups=32, k_sec=(1, 1, 1, 1),
                         inc_sec=(16, 32, 32, 64), attention=attention)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("attention", [None, "se"])
def test_dpn_with_grouped_conv_equals_the_plain_conv2d_model(attention):
    model = _small_dpn(attention)
    grouped = [layer for layer in model.layers if isinstance(layer, layers.Conv2D) and layer.groups > 1]
    assert len(grouped) == 4 and all(type(layer) is GroupedConv2D for layer in grouped)
    model.set_weights([np.random.default_rng(i).normal(0.5, 0.1, w.shape).astype("float32")
                       for i, w in enumerate(model.get_weights())])

    def plain(layer):  # what the DPN builder made before GroupedConv2D: keras's own grouped Conv2D
        cls = layers.Conv2D if type(layer) is GroupedConv2D else type(layer)
        return cls.from_config(layer.get_config())

    before = keras.models.clone_model(model, clone_function=plain)
    assert not any(type(layer) is GroupedConv2D for layer in before.layers)
    assert [(w.path, tuple(w.shape)) for w in before.weights] == [(w.path, tuple(w.shape)) for w in model.weights]
    before.set_weights(model.get_weights())
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype="float32")
    expected = _np(before(x))
    np.testing.assert_allclose(_np(model(x)), expected, rtol=1e-5, atol=1e-5 * float(np.abs(expected).max()))


def test_small_dpn_float_tflite_runs_whole_inside_xnnpack(tmp_path):
    """The dual-path channel slices stay slices at inference: LiteRT's XNNPACK leaves uneven SPLIT_V outside."""
    from keras_cxr.export.edge_graph import build_edge_model
    from keras_cxr.export.saved_model import export_saved_model
    from keras_cxr.export.tflite import convert
    from keras_cxr.predict.litert import LiteRTModel

    keras.utils.set_random_seed(0)
    features = _small_dpn()
    x = layers.GlobalAveragePooling2D()(features.output)
    classifier = keras.Model(features.input, layers.Dense(3, activation="softmax")(x))
    edge = build_edge_model(classifier)
    export_saved_model(edge, tmp_path / "sm")
    (tmp_path / "m.tflite").write_bytes(convert(tmp_path / "sm"))
    lite = LiteRTModel(tmp_path / "m.tflite")
    assert lite.graph_summary()["ops_outside_xnnpack"] == {"CAST": 1}
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    expected = _np(classifier(np.repeat(images.astype("float32") / 255.0, 3, axis=-1)))
    np.testing.assert_allclose(lite.predict_uint8(images), expected, atol=1e-4)
