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


@pytest.mark.parametrize("kind", list_attention())
def test_attention_config_round_trip(kind):
    layer = get_attention(kind, name=f"my_{kind}")
    layer.build((None, 8, 8, 32))
    clone = layer.__class__.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer)


@pytest.mark.parametrize("kind", list_attention())
def test_attention_survives_keras_save(kind, tmp_path):
    inputs = keras.Input((8, 8, 16))
    outputs = get_attention(kind)(keras.layers.Conv2D(16, 3, padding="same")(inputs))
    model = keras.Model(inputs, outputs)
    x = np.random.RandomState(1).rand(2, 8, 8, 16).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(model.predict(x, verbose=0), restored.predict(x, verbose=0), atol=1e-6)


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
    assert layer.compute_macs((None, 56, 56, 96)) > 0
