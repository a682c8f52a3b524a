"""Chen et al. (improved ResNet50, CT): the light and full designs of resnet50_fpn_attention."""

import numpy as np
import pytest

from keras_cxr.layers import NonLocal
from keras_cxr.models import build_model, load_model, profile

SHAPE = (64, 64, 3)
STAGE_WIDTHS = (256, 512, 1024, 2048)  # C2..C5 channels
ATTENDED = (512, 1024, 2048)  # last block of conv3, conv4, conv5


def _resnet50_without_head(num_classes):
    return build_model("resnet50", num_classes, input_shape=SHAPE, variant="v1").count_params() - (
        2048 * num_classes + num_classes
    )


def _expected_params(num_classes, channels, smoothing, inter_ratio):
    """ResNet-50 body + non-local blocks + pyramid + head on the 4 pooled levels, counted by hand."""
    nonlocal_params = 0
    for c in ATTENDED:
        inter = int(c * inter_ratio)
        # theta, phi, g (c -> inter, with bias), project (inter -> c), BatchNorm (4 x c).
        nonlocal_params += 3 * (c * inter + inter) + (inter * c + c) + 4 * c
    laterals = sum(c * channels + channels for c in STAGE_WIDTHS)
    smooth = {"conv": 9 * channels * channels + channels, "depthwise": 9 * channels + channels, "none": 0}[smoothing]
    head = 4 * channels * num_classes + num_classes
    return _resnet50_without_head(num_classes) + nonlocal_params + laterals + 4 * smooth + head


@pytest.mark.parametrize("design", ["light", "full"])
def test_output_shape_and_probabilities(design):
    model = build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, design=design)
    x = np.random.RandomState(0).rand(2, *SHAPE).astype("float32")
    probs = model.predict(x, verbose=0)
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    width = {"light": 128, "full": 256}[design]
    assert model.get_layer("fpn_fusion").output.shape[-1] == 4 * width


@pytest.mark.parametrize(
    "options,expected",
    [
        ({}, (128, "depthwise", 0.125)),
        ({"design": "full"}, (256, "conv", 0.5)),
        ({"fpn_channels": 64}, (64, "depthwise", 0.125)),
        ({"fpn_smoothing": "conv"}, (128, "conv", 0.125)),
        ({"fpn_smoothing": "none"}, (128, "none", 0.125)),
        ({"attention_inter_ratio": 0.0625}, (128, "depthwise", 0.0625)),
        ({"design": "full", "fpn_channels": 128, "attention_inter_ratio": 0.125}, (128, "conv", 0.125)),
    ],
)
def test_options_change_the_parameter_count_as_counted_by_hand(options, expected):
    model = build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, **options)
    assert model.count_params() == _expected_params(3, *expected)
    channels, _, inter_ratio = expected
    for layer in model.layers:
        if isinstance(layer, NonLocal):
            assert layer.theta.units == int(layer.input.shape[-1] * inter_ratio)
    assert model.get_layer("fpn_lateral2").output.shape[-1] == channels


def test_light_design_costs_less_than_full_but_contains_all_of_resnet50():
    light = profile(build_model("resnet50_fpn_attention", 3, input_shape=(224, 224, 3)))
    full = profile(build_model("resnet50_fpn_attention", 3, input_shape=(224, 224, 3), design="full"))
    base = profile(build_model("resnet50", 3, input_shape=(224, 224, 3), variant="v1"))
    assert base["macs"] < light["macs"] < full["macs"]
    assert base["params"] < light["params"] < full["params"]
    # Measured: 4.38 vs 8.02 GMACs (ResNet-50 v1: 3.86); docs/BENCHMARKS.md.
    assert light["gmacs"] < 1.15 * base["gmacs"]
    assert full["gmacs"] > 2.0 * base["gmacs"]


def test_bad_design_values_are_clear_errors():
    with pytest.raises(ValueError, match="light"):
        build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, design="tiny")
    with pytest.raises(ValueError, match="depthwise"):
        build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, fpn_smoothing="separable")
    with pytest.raises(ValueError, match="attention_inter_ratio"):
        build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, attention_inter_ratio=2)


def test_other_attention_blocks_ignore_the_non_local_ratio():
    model = build_model("resnet50_fpn_attention", 3, input_shape=SHAPE, attention="se")
    assert model.get_layer("conv5_block3_se") is not None


def test_default_design_survives_keras_save_and_load(tmp_path):
    model = build_model("resnet50_fpn_attention", 3, input_shape=SHAPE)
    # Non-local blocks start as the identity (zero BN scale): open them so a
    # lost or mis-restored attention weight would change the outputs.
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, NonLocal):
            gamma = layer.norm.gamma
            gamma.assign(rng.uniform(0.5, 1.0, gamma.shape).astype("float32"))
    x = rng.random((2, *SHAPE), dtype="float32")
    expected = model.predict(x, verbose=0)
    path = tmp_path / "fpn_light.keras"
    model.save(path)
    restored = load_model(path)
    np.testing.assert_array_equal(restored.predict(x, verbose=0), expected)
    assert restored.get_layer("conv3_block4_nl").theta.units == 64
    assert restored.count_params() == model.count_params()
