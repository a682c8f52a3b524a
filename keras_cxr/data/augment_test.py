import numpy as np
import pytest
import tensorflow as tf

from keras_cxr.data.augment import PRESETS, get_augmentation


@pytest.mark.parametrize("name", PRESETS)
def test_preset_keeps_shape_and_value_range(name):
    augmentation = get_augmentation(name, 64, seed=1)
    assert augmentation.load_size >= 64
    images = tf.constant(np.random.RandomState(0).rand(4, augmentation.load_size, augmentation.load_size, 3),
                         tf.float32)
    out = augmentation(images, training=True).numpy()
    assert out.shape == (4, 64, 64, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0
    if name != "none":
        assert augmentation.layers


def _centre(images, size):
    top = (images.shape[1] - size) // 2
    return images[:, top:top + size, top:top + size]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_changes_every_training_batch_and_none_changes_nothing(name):
    augmentation = get_augmentation(name, 64, seed=1)
    images = np.random.RandomState(0).rand(8, augmentation.load_size, augmentation.load_size, 3).astype(np.float32)
    out = augmentation(tf.constant(images), training=True).numpy()
    if name == "none":
        np.testing.assert_array_equal(out, images)
        return
    # Against the unaugmented view of the same size (the centre crop the preset is evaluated on): every image
    # is changed, most of them clearly (a small brightness shift and no flip is a legal draw).
    change = np.abs(out - _centre(images, 64)).max(axis=(1, 2, 3))
    assert (change > 1e-3).all() and np.median(change) > 0.05, change


@pytest.mark.parametrize("name", PRESETS)
def test_outside_training_the_random_layers_pass_images_through(name):
    # training=False runs every layer in inference mode: no random draw, so no seed matters and no crop is
    # taken (the pipeline gives evaluation its centre crop through the preset's converter instead); only
    # li_convnext's padding, which is not random, still applies.
    images = np.random.RandomState(2).rand(4, 77, 77, 3).astype(np.float32)
    outputs = [get_augmentation(name, 64, seed=seed)(tf.constant(images), training=False).numpy() for seed in (1, 2)]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    expected = np.pad(images, [(0, 0), (4, 4), (4, 4), (0, 0)]) if name == "li_convnext" else images
    np.testing.assert_allclose(outputs[0], expected, atol=1e-6)


def test_zhong2020_crop_crops_80_from_96():
    assert get_augmentation("zhong2020_crop", 80).load_size == 96
    assert get_augmentation("zhong2020", 80).load_size == 80


def test_unknown_preset():
    with pytest.raises(ValueError, match="zhong2020"):
        get_augmentation("autoaugment", 64)


@pytest.mark.parametrize("name", [p for p in PRESETS if p not in ("none", "randaugment")])
def test_every_layer_draws_from_its_own_seed(name):
    # Keras random layers with equal seeds draw equal numbers: flips would always come with the same shift.
    layers = get_augmentation(name, 64, seed=7).layers
    seeds = [layer.seed for layer in layers if getattr(layer, "seed", None) is not None]
    assert len(seeds) >= 2 and len(set(seeds)) == len(seeds)


def test_fixed_seed_repeats_and_another_seed_differs():
    images = tf.constant(np.random.RandomState(0).rand(8, 96, 96, 3), tf.float32)

    def run(seed):
        return get_augmentation("zhong2020_crop", 80, seed=seed)(images, training=True).numpy()

    np.testing.assert_array_equal(run(3), run(3))
    assert np.abs(run(3) - run(4)).max() > 0.05


def test_zhong2020_contrast_stays_near_the_original():
    # The former translation of the script drew contrast factors down to 0.1 (a nearly flat image).
    contrast = [layer for layer in get_augmentation("zhong2020", 80, seed=0).layers
                if type(layer).__name__ == "RandomContrast"][0]
    ramp = tf.constant(np.tile(np.linspace(0.2, 0.8, 80, dtype=np.float32), (64, 80, 1))[..., None])
    out = contrast(tf.repeat(ramp, 3, axis=-1), training=True).numpy()
    spread = out[..., 0].max(axis=(1, 2)) - out[..., 0].min(axis=(1, 2))
    assert 0.6 * 0.8 - 1e-3 <= spread.min() and spread.max() <= 0.6 * 1.2 + 1e-3


def test_zhong2020_script_is_the_authors_script():
    # resize 96 -> random 80 crop, flip, brightness 0.1, tf.image.random_contrast(0.1, 0.2); no saturation
    from keras_cxr.layers import RandomContrastRange

    augmentation = get_augmentation("zhong2020_script", 80, seed=0)
    assert augmentation.load_size == 96
    names = [type(layer).__name__ for layer in augmentation.layers]
    assert names == ["RandomCrop", "RandomFlip", "RandomBrightness", "RandomContrastRange"]
    contrast = augmentation.layers[-1]
    assert isinstance(contrast, RandomContrastRange) and (contrast.lower, contrast.upper) == (0.1, 0.2)
    assert augmentation.layers[2].factor == [-0.1, 0.1] or tuple(augmentation.layers[2].factor) == (-0.1, 0.1)


def test_zhong2020_script_leaves_10_to_20_percent_of_the_contrast():
    contrast = get_augmentation("zhong2020_script", 80, seed=0).layers[-1]
    ramp = tf.constant(np.tile(np.linspace(0.2, 0.8, 80, dtype=np.float32), (64, 80, 1))[..., None])
    out = contrast(tf.repeat(ramp, 3, axis=-1), training=True).numpy()
    spread = out[..., 0].max(axis=(1, 2)) - out[..., 0].min(axis=(1, 2))
    assert 0.6 * 0.1 - 1e-3 <= spread.min() and spread.max() <= 0.6 * 0.2 + 1e-3
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0.5, atol=1e-4)  # pulled towards the image's mean


def test_zhong2020_script_in_the_tf_data_pipeline(tmp_path):
    # The layers run inside the pipeline's tf.data map: training views have their contrast cut to 10-20%,
    # evaluation views are the untouched centre 80 crop of the 96 image.
    from PIL import Image

    from keras_cxr.data.pipeline import make_dataset

    ramp = np.tile(np.linspace(0, 255, 480).astype(np.uint8), (480, 1))
    lines = ["path,label,patient_id,source"]
    for i in range(4):
        Image.fromarray(ramp).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png,{'ab'[i % 2]},p{i},t")
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")

    def spread(training):
        ds = make_dataset(tmp_path / "m.csv", image_size=80, channels=3, batch_size=4, augment="zhong2020_script",
                          training=training, shuffle=False, seed=1, deterministic=True)
        images = next(iter(ds))[0].numpy()
        assert images.shape == (4, 80, 80, 3) and images.min() >= 0.0 and images.max() <= 1.0
        return images[..., 0].max(axis=(1, 2)) - images[..., 0].min(axis=(1, 2))

    test_view = spread(training=False)
    assert test_view.min() > 0.7  # centre 80 of 96 columns of a full 0-1 ramp
    assert (spread(training=True) <= 0.2 * test_view.max() + 0.02).all()


def test_zero_pad_images_is_keras_zero_padding():
    # li_convnext pads with keras_cxr's ZeroPadImages, which also runs in tf.data under JAX and PyTorch.
    import keras

    from keras_cxr.layers import ZeroPadImages

    images = np.random.RandomState(0).rand(2, 8, 8, 3).astype(np.float32)
    expected = np.asarray(keras.layers.ZeroPadding2D(3)(images))
    np.testing.assert_array_equal(np.asarray(ZeroPadImages(3)(images)), expected)
    assert ZeroPadImages.from_config(ZeroPadImages(3).get_config()).padding == 3
