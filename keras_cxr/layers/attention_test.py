import numpy as np
import pytest
import keras

from keras_cxr.layers import ATTENTION_LAYERS, CBAM, ECA, GlobalContext, NonLocal, get_attention, list_attention
from keras_cxr.layers.eca import eca_kernel_size


@pytest.mark.parametrize("kind", list_attention())
def test_attention_keeps_shape(kind):
    layer = get_attention(kind)
    x = np.random.RandomState(0).rand(2, 8, 6, 32).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == x.shape
    assert np.all(np.isfinite(y))


# Settings other than the defaults, so a setting the config forgets comes back as its default and shows.
NON_DEFAULT = {"cbam": dict(reduction=2, spatial_kernel_size=3, min_channels=4),
               "se": dict(reduction=2, min_channels=4), "eca": dict(kernel_size=5),
               "gc": dict(reduction=2, min_channels=4), "nl": dict(inter_ratio=0.25, sub_sample=False, scaled=False)}


def _randomise(layer, seed=0):
    """Random values in every weight (GC and NL start as the identity, which would hide lost weights)."""
    rng = np.random.default_rng(seed)
    layer.set_weights([np.abs(rng.normal(1.0, 0.3, w.shape)) if "variance" in w.path else rng.normal(0, 0.5, w.shape)
                       for w in layer.weights])


@pytest.mark.parametrize("kind", list_attention())
def test_attention_config_round_trip(kind):
    layer = get_attention(kind, name=f"my_{kind}", **NON_DEFAULT[kind])
    layer.build((None, 8, 8, 32))
    _randomise(layer)
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.name == f"my_{kind}"
    x = np.random.RandomState(4).randn(2, 8, 8, 32).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x))
    for other in (clone, restored):  # the config alone rebuilds the same computation, given the weights
        if not other.built:  # deserialising builds the layer from its build config
            other.build((None, 8, 8, 32))
        other.set_weights(layer.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(other(x)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", list_attention())
def test_attention_changes_its_input_depending_on_the_input(kind):
    layer = get_attention(kind)
    layer.build((None, 8, 6, 32))
    _randomise(layer)
    x = np.random.RandomState(5).randn(2, 8, 6, 32).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert np.abs(y - x).max() > 0.05  # not the identity
    # Attention depends on the content: the same layer treats the two images of the batch differently,
    # and not by one shared per-channel scale or shift.
    ratio, shift = y / x, y - x
    assert not np.allclose(ratio[0], ratio[1], atol=1e-3) and not np.allclose(shift[0], shift[1], atol=1e-3)


@pytest.mark.parametrize("kind", list_attention())
def test_attention_survives_keras_save(kind, tmp_path):
    inputs = keras.Input((8, 8, 16))
    attention = get_attention(kind, **NON_DEFAULT[kind])
    outputs = attention(keras.layers.Conv2D(16, 3, padding="same")(inputs))
    model = keras.Model(inputs, outputs)
    _randomise(attention)  # GC and NL start as the identity: weights lost on loading would not show
    x = np.random.RandomState(1).rand(2, 8, 8, 16).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), restored.predict(x, verbose=0))
    assert restored.layers[-1].get_config() == attention.get_config()


def test_factory_rejects_unknown_and_accepts_none():
    assert get_attention(None) is None
    assert get_attention("none") is None
    with pytest.raises(ValueError, match="cbam"):
        get_attention("transformer")
    assert set(ATTENTION_LAYERS) == {"cbam", "se", "eca", "gc", "nl"}


def test_factory_passes_reduction_only_to_blocks_that_take_it():
    assert get_attention("cbam", reduction=8).reduction == 8
    assert isinstance(get_attention("eca", reduction=8), ECA)


@pytest.mark.parametrize("channels,expected", [(64, 3), (96, 3), (256, 5), (768, 5), (2048, 7)])
def test_eca_adaptive_kernel_size(channels, expected):
    assert eca_kernel_size(channels) == expected


@pytest.mark.parametrize("cls", [GlobalContext, NonLocal])
def test_residual_attention_is_identity_at_initialisation(cls):
    # GC and NL start as the identity so they can be inserted into pretrained networks.
    x = np.random.RandomState(2).rand(2, 6, 6, 16).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cls()(x)), x, atol=1e-6)


def test_cbam_gates_scale_features_into_zero_one_band():
    # CBAM only multiplies by sigmoid gates: |output| <= |input| everywhere.
    x = np.random.RandomState(3).randn(2, 8, 8, 32).astype("float32")
    y = keras.ops.convert_to_numpy(CBAM()(x))
    assert np.all(np.abs(y) <= np.abs(x) + 1e-6)
    assert not np.allclose(y, x)


def test_cbam_weights_and_macs():
    layer = CBAM(reduction=16)
    layer.build((None, 56, 56, 96))
    # shared MLP 96 -> 8 (min width) -> 96, plus a 7x7 conv from 2 maps to 1.
    assert layer.count_params() == (96 * 8 + 8) + (8 * 96 + 96) + (7 * 7 * 2 + 1)
    # MLP on the average and the max descriptor: 2 x (96*8 + 8*96) = 3072; the 7x7 conv over 2 maps at every
    # one of 56*56 positions: 3136 * 98 = 307328; channel and spatial rescaling: 2 x 3136 * 96 = 602112.
    assert layer.compute_macs((None, 56, 56, 96)) == 3072 + 307328 + 602112


# Hand counts on a 4x4x16 map (n = 16 positions), one image; each Dense/conv weight is one MAC where it is applied.
@pytest.mark.parametrize("kind,kwargs,macs", [
    # MLP 16 -> 8 -> 16 on avg and max: 2 x 256; 3x3 conv of 2 maps at 16 positions: 288; two rescales: 2 x 256.
    ("cbam", dict(spatial_kernel_size=3), 512 + 288 + 512),
    # FC 16 -> 8 -> 16 once: 256; channel rescale: 256.
    ("se", {}, 256 + 256),
    # 3-tap conv along the 16 channels: 48; channel rescale: 256.
    ("eca", dict(kernel_size=3), 48 + 256),
    # context logit (16 weights) at 16 positions and the weighted sum: 2 x 256; transform 16 -> 8 -> 16: 256;
    # the add at every position: 256.
    ("gc", {}, 512 + 256 + 256),
    # theta, phi, g (16 -> 8) and the projection (8 -> 16) at 16 positions: 4 x 2048; keys and values pooled
    # to 4 positions: logits 16 x 4 x 8 and the weighted sum 16 x 4 x 8.
    ("nl", {}, 4 * 2048 + 2 * 512),
    ("nl", dict(sub_sample=False), 4 * 2048 + 2 * 2048),  # every position a key: 16 x 16 x 8 twice
])
def test_macs_match_a_hand_count(kind, kwargs, macs):
    layer = get_attention(kind, **kwargs)
    layer.build((None, 4, 4, 16))
    assert layer.compute_macs((None, 4, 4, 16)) == macs
