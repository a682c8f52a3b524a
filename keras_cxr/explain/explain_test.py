import numpy as np
import pytest

from keras_cxr.explain import METHODS, Explainer, explain_array, find_target_layer, spatial_layers
from keras_cxr.explain.pointing import default_tolerance, energy_inside, pointing_game_hit, summarize_pointing
from keras_cxr.models import build_model
from keras_cxr.testing import small_shape


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
    ("dpn68", "conv5_relu"), ("vgg16", "block5_conv3"), ("densenet121", "relu"),
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


def test_explain_paths_streams_batches_and_keeps_only_gallery_thumbnails(small_model, tmp_path, monkeypatch):
    """Full-size images live one batch at a time; the gallery keeps a few small thumbnails, not the images."""
    import weakref

    from PIL import Image

    from keras_cxr.explain import runner
    from keras_cxr.explain.overlay import THUMBNAIL_PX
    from keras_cxr.models.loading import LoadedModel

    folder = tmp_path / "xrays"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for i in range(7):
        Image.fromarray(rng.integers(0, 256, (300, 400), dtype=np.uint8)).save(folder / f"x{i}.png")
    read_image, live, peak = runner.read_image, [], [0]

    def tracked_read(path):
        image = read_image(path)
        live.append(weakref.ref(image))
        peak[0] = max(peak[0], sum(ref() is not None for ref in live))
        return image

    gallery_items, save_gallery = [], runner.save_gallery

    def recorded_gallery(items, path):
        gallery_items.extend(items)
        return save_gallery(items, path)

    monkeypatch.setattr(runner, "read_image", tracked_read)
    monkeypatch.setattr(runner, "save_gallery", recorded_gallery)
    monkeypatch.setattr(runner, "GALLERY_ITEMS", 3)
    loaded = LoadedModel(small_model, ["a", "b", "c"], "small", tmp_path / "model.keras")
    summary = runner.explain_paths(loaded, [folder], tmp_path / "out", batch_size=2, progress=False)
    assert summary["images"] == 7 and len(summary["explanations"]) == 7
    assert peak[0] <= 2  # one batch of full-size images at a time (all 7 when read up front)
    assert np.load(summary["explanations"][0]["map"]).shape == (300, 400)  # raw maps stay full size
    assert len(gallery_items) == 3 and (tmp_path / "out" / "gallery_gradcam.png").is_file()
    for image, heatmap, _ in gallery_items:
        assert image.shape == heatmap.shape == (THUMBNAIL_PX * 3 // 4, THUMBNAIL_PX)
