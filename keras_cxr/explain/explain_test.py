import numpy as np
import pytest

from keras_cxr.explain import METHODS, Explainer, explain_array, find_target_layer, spatial_layers
from keras_cxr.explain.pointing import default_tolerance, energy_inside, pointing_game_hit, summarize_pointing
from keras_cxr.models import build_model
from keras_cxr.models.zoo_test import small_shape


@pytest.fixture(scope="module")
def small_model():
    return build_model("vgg80_multibranch", 3, input_shape=(32, 32, 1))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_returns_a_map_of_the_image_size_in_unit_range(small_model, method):
    image = np.random.default_rng(0).random((50, 40)).astype(np.float32)
    heatmap = explain_array(small_model, image, method=method, lime_samples=40, scorecam_max_n=8)
    assert heatmap.shape == (50, 40)
    assert np.all(np.isfinite(heatmap)) and heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_explained_class_defaults_to_the_prediction_and_can_be_chosen(small_model):
    explainer = Explainer(small_model, "gradcam")
    x = np.random.default_rng(1).random((2, 32, 32, 1)).astype(np.float32)
    assert explainer(x, [0, 2]).shape == (2, 32, 32)
    assert explainer.layer == "block4_conv3"  # the map both head branches read


# Every registered model is also checked in models/zoo_test.py; here, the choices themselves.
@pytest.mark.parametrize("name,expected", [
    ("resnet50_fpn_attention", "conv5_block3_out"), ("convnext_at", "convnext_tiny_stage_3_block_2_add"),
    ("dpn68", "conv5_elu"), ("vgg16", "block5_conv3"), ("densenet121", "relu"),
])
def test_automatic_target_layer_choice(name, expected):
    model = build_model(name, 3, input_shape=small_shape(name))
    assert find_target_layer(model) == expected


def test_unknown_layer_lists_the_candidates(small_model):
    with pytest.raises(ValueError, match="Candidates: .*block4_conv3"):
        find_target_layer(small_model, "conv99")
    assert "block1_conv1" in spatial_layers(small_model)
    with pytest.raises(ValueError, match="gradcam"):
        Explainer(small_model, "occlusion")


def test_pointing_game_on_a_hand_made_map_and_mask():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    inside = np.zeros((10, 10))
    inside[3, 3] = 1.0
    outside = np.zeros((10, 10))
    outside[8, 8] = 1.0
    assert pointing_game_hit(inside, mask)
    assert not pointing_game_hit(outside, mask)
    near = np.zeros((10, 10))
    near[5, 3] = 1.0
    assert not pointing_game_hit(near, mask) and pointing_game_hit(near, mask, tolerance=2)
    half = np.zeros((10, 10))
    half[3, 3] = half[8, 8] = 1.0
    assert energy_inside(half, mask) == pytest.approx(0.5)
    assert default_tolerance((224, 224)) == 15
    with pytest.raises(ValueError, match="non-empty"):
        pointing_game_hit(inside, np.zeros((10, 10), bool))
    summary = summarize_pointing([{"method": "gradcam", "hit": True, "energy_inside": 0.6, "mask_share": 0.1},
                                  {"method": "gradcam", "hit": False, "energy_inside": 0.2, "mask_share": 0.1}])
    assert summary["gradcam"] == pytest.approx({"images": 2, "hit_rate": 0.5, "energy_inside": 0.4,
                                                "mask_share": 0.1})
