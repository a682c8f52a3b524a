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


def test_gradcam_of_a_two_branch_model_reads_the_shared_map(small_model):
    explainer = Explainer(small_model, "gradcam")
    x = np.random.default_rng(1).random((2, 32, 32, 1)).astype(np.float32)
    maps = explainer(x, [0, 2])
    assert maps.shape == (2, 32, 32) and maps.max() > 0  # not a blank map
    assert explainer.layer == "block4_conv3"  # the map both head branches read


def _hand_model():
    """A model whose evidence is known: class 0 is read from bright pixels (1.0), class 1 from grey ones (0.5).

    Two 1x1 convolutions: h = relu(x - 0.75), relu(x - 0.25); then "features" = relu(4 h0) (1 on bright, 0 on
    grey and black) and relu(h1 - 3 h0) (0.25 on grey, 0 on bright and black); a global average; a dense layer
    reading only the first map for class 0 (weight 1) and only the second for class 1 (weight 8); softmax.
    """
    import keras

    inputs = keras.Input((32, 32, 1))
    detect = keras.layers.Conv2D(2, 1, activation="relu", name="detect")
    features = keras.layers.Conv2D(2, 1, activation="relu", name="features")
    dense = keras.layers.Dense(2, activation="softmax", name="predictions")
    outputs = dense(keras.layers.GlobalAveragePooling2D()(features(detect(inputs))))
    model = keras.Model(inputs, outputs)
    detect.set_weights([np.ones((1, 1, 1, 2), np.float32), np.array([-0.75, -0.25], np.float32)])
    features.set_weights([np.array([[4.0, -3.0], [0.0, 1.0]], np.float32).reshape(1, 1, 2, 2), np.zeros(2, np.float32)])
    dense.set_weights([np.diag([1.0, 8.0]).astype(np.float32), np.zeros(2, np.float32)])
    return model


def _two_squares():
    """A black 32x32 image with a bright square (class 0's evidence) and a grey one (class 1's), and their masks."""
    image = np.zeros((32, 32), np.float32)
    image[4:16, 18:30] = 1.0
    image[18:30, 2:14] = 0.5
    return image, image == 1.0, image == 0.5


@pytest.fixture(scope="module")
def hand_model():
    return _hand_model()


@pytest.mark.parametrize("method", METHODS)
def test_every_method_points_at_the_evidence_of_the_class(hand_model, method):
    # Each method's map for class 0 peaks on the bright square and holds most of its energy there; a blank
    # or flat map would score 0 and 0.14 (the square's share of the image), one that also lit the grey
    # square (the other class's evidence, as large) at most 0.5.
    image, bright, grey = _two_squares()
    heatmap = explain_array(hand_model, image, method=method, class_index=0, layer="features", lime_samples=100,
                            scorecam_max_n=2)
    assert heatmap.shape == (32, 32) and heatmap.min() >= 0.0 and heatmap.max() <= 1.0
    assert pointing_game_hit(heatmap, bright)
    assert energy_inside(heatmap, bright) > 0.7 and energy_inside(heatmap, grey) < 0.25


def test_explained_class_defaults_to_the_prediction_and_can_be_chosen(hand_model):
    from keras_cxr.explain.maps import prepare_input

    image, bright, grey = _two_squares()
    probabilities = hand_model.predict(prepare_input(image, (32, 32, 1))[None], verbose=0)[0]
    assert probabilities.argmax() == 1  # the grey square outweighs the bright one: class 1 is the prediction
    maps = {c: explain_array(hand_model, image, class_index=c, layer="features") for c in (None, 0, 1)}
    np.testing.assert_array_equal(maps[None], maps[1])
    assert energy_inside(maps[1], grey) > 0.9 and energy_inside(maps[0], bright) > 0.9


def test_explain_paths_explains_the_prediction_or_the_chosen_class(hand_model, tmp_path):
    from PIL import Image

    from keras_cxr.explain.runner import explain_paths
    from keras_cxr.models.loading import LoadedModel

    image, bright, grey = _two_squares()
    Image.fromarray(np.round(image * 255).astype(np.uint8)).save(tmp_path / "squares.png")
    loaded = LoadedModel(hand_model, ["bright", "grey"], "hand", tmp_path / "model.keras")
    for chosen, explained, evidence in ((None, "grey", grey), ("bright", "bright", bright)):
        summary = explain_paths(loaded, [tmp_path / "squares.png"], tmp_path / f"out_{chosen}", class_name=chosen,
                                layer="features", progress=False)
        (record,) = summary["explanations"]
        assert (record["predicted"], record["explained"]) == ("grey", explained)
        assert energy_inside(np.load(record["map"]), evidence) > 0.9


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
