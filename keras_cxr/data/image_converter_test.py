import json

import numpy as np
import pytest
from PIL import Image

from keras_cxr.data.image_converter import CONFIG_FILE, ImageConverter, converter_for


def test_centre_crop_of_the_load_size():
    converter = ImageConverter(80, 96)
    assert converter.crop_fraction == pytest.approx(80 / 96)
    image = np.zeros((96, 96), np.float32)
    image[8:88, 8:88] = 1.0  # exactly the centre 80 x 80
    np.testing.assert_array_equal(converter.convert_array(image)[..., 0], 255)
    assert converter.crop_box((960, 480)) == (80, 40, 880, 440)


def test_plain_converter_resizes_the_whole_image():
    image = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (100, 1))  # non-square
    out = ImageConverter(50).convert_array(image)
    assert out.shape == (50, 50, 1) and out.dtype == np.uint8
    assert out[0, 0, 0] <= 3 and out[0, -1, 0] >= 252  # whole width kept, squeezed


def test_config_round_trip_and_run_directory_lookup(tmp_path):
    converter = ImageConverter(224, 256)
    assert ImageConverter.from_config(json.loads(json.dumps(converter.get_config()))) == converter
    converter.save(tmp_path)
    assert (tmp_path / CONFIG_FILE).is_file()
    assert converter_for(tmp_path / "model.keras", 224) == converter
    assert converter_for(tmp_path / "elsewhere" / "model.keras", 64) == ImageConverter(64)
    with pytest.raises(ValueError, match="224 px"):
        converter_for(tmp_path / "model.keras", 64)
    with pytest.raises(ValueError, match="load_size"):
        ImageConverter(64, 32)


def test_resize_is_antialiased():
    # A 1-pixel checkerboard averages to grey when shrunk 8x; point sampling would keep black or white.
    board = (np.indices((256, 256)).sum(axis=0) % 2).astype(np.float32)
    out = ImageConverter(32).convert_array(board)
    assert np.abs(out.astype(float) - 127.5).max() <= 2


def test_geometry_of_training_crops_matches_evaluation(tmp_path):
    """A lesion has the same size in pixels in a training crop and in the evaluation view (Zhong 2020: 96 -> 80)."""
    tf = pytest.importorskip("tensorflow")  # noqa: F841
    from keras_cxr.data.pipeline import make_dataset

    image = np.zeros((480, 480), np.uint8)
    image[180:300, 180:300] = 255  # a 120 px square = 24 px at 96, centred
    Image.fromarray(image).save(tmp_path / "square.png")
    (tmp_path / "m.csv").write_text("path,label,patient_id,source\nsquare.png,a,p,t\n")

    def width(training):
        ds = make_dataset(tmp_path / "m.csv", image_size=80, channels=1, batch_size=1, augment="zhong2020_crop",
                          training=training, shuffle=False, seed=1, deterministic=True)
        view = next(iter(ds))[0].numpy()[0, ..., 0]
        return int((view.max(axis=0) > 0.5 * view.max()).sum())

    # Brightness/contrast jitter scale values, not sizes; flips and crops move the square, never resize it.
    assert width(training=False) == pytest.approx(24, abs=1)
    assert all(abs(width(training=True) - width(training=False)) <= 1 for _ in range(3))


def test_bytes_give_the_view_the_file_gives(tmp_path):
    from keras_cxr.testing import write_png

    image = np.random.default_rng(2).random((70, 90)).astype(np.float32)
    path = write_png(tmp_path / "x.png", image)
    for converter in (ImageConverter(32, 40), ImageConverter(32, denoise="tv")):
        np.testing.assert_array_equal(converter.convert_bytes(path.read_bytes(), str(path)), converter(path))
