"""One preprocessing definition: every code path gives a model the same pixels for the same file."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_cxr.data.decode import read_image
from keras_cxr.data.image_converter import ImageConverter
from keras_cxr.testing import write_dicom

SIZE, LOAD = 32, 40


def _files(folder):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:220] / 300.0
    base = np.clip(0.2 + 0.5 * xx + 0.2 * np.sin(9 * yy) + 0.05 * rng.random((300, 220)), 0, 1)
    paths = {}
    Image.fromarray(np.round(base * 255).astype(np.uint8)).save(paths.setdefault("png8", folder / "a8.png"))
    Image.fromarray(np.round(base * 4095).astype(np.uint16)).save(paths.setdefault("png16_12bit", folder / "a12.png"))
    Image.fromarray(np.round(base * 255).astype(np.uint8)).save(paths.setdefault("jpeg", folder / "a.jpg"),
                                                                 quality=95)
    rgba = np.dstack([np.round(base * 255).astype(np.uint8)] * 3 + [np.full(base.shape, 200, np.uint8)])
    Image.fromarray(rgba).save(paths.setdefault("rgba", folder / "rgba.png"))
    paths["dicom_monochrome1"] = write_dicom(folder / "m1.dcm", np.round((1 - base) * 4095).astype(np.uint16),
                                             photometric="MONOCHROME1")
    large = np.clip(np.kron(base, np.ones((8, 5))), 0, 1)  # 2400 x 1100, non-square
    Image.fromarray(np.round(large * 255).astype(np.uint8)).save(paths.setdefault("large", folder / "large.png"))
    return paths


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import keras

    folder = tmp_path_factory.mktemp("parity")
    paths = _files(folder)
    lines = ["path,label,patient_id,source"] + [f"{p.name},{'ab'[i % 2]},{k},t" for i, (k, p) in
                                                enumerate(paths.items())]
    (folder / "m.csv").write_text("\n".join(lines) + "\n")
    run = folder / "run"
    run.mkdir()
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.RandomNormal(
        stddev=0.05, seed=0))(x)
    keras.Model(inputs, outputs).save(run / "model.keras")
    (run / "classes.json").write_text(json.dumps(["a", "b"]))
    ImageConverter(SIZE, LOAD).save(run)
    return folder, paths, run


def _views_by_path(setup):
    """uint8 model views of every file through every code path that feeds a model."""
    from keras_cxr.data.pipeline import make_dataset
    from keras_cxr.explain.maps import prepare_input
    from keras_cxr.export.exporter import calibration_images
    from keras_cxr.models.loading import load_classifier
    from keras_cxr.data.image_converter import exported_converter
    from keras_cxr.predict.runner import load_predictor

    folder, paths, run = setup
    loaded = load_classifier(run)
    names = list(paths)
    dataset = make_dataset(folder / "m.csv", image_size=SIZE, channels=1, batch_size=len(names), shuffle=False,
                           converter=loaded.converter)
    views = {
        "tf.data / evaluate": next(iter(dataset))[0].numpy()[..., 0] * 255.0,
        "explain": np.stack([prepare_input(read_image(paths[n]), loaded.input_shape, loaded.converter)[..., 0]
                             for n in names]) * 255.0,
        "predict (Keras)": np.stack([load_predictor(run).converter(paths[n])[..., 0] for n in names]),
        "predict (SavedModel / TFLite labels.json)": np.stack(
            [exported_converter({"preprocessing": loaded.converter.get_config()}, SIZE)(paths[n])[..., 0]
             for n in names]),
        "export calibration": calibration_images(folder / "m.csv", loaded.converter)[..., 0],
    }
    return names, views


def test_every_path_gives_the_model_the_same_pixels(setup):
    names, views = _views_by_path(setup)
    reference = views.pop("tf.data / evaluate")
    assert reference.shape == (len(names), SIZE, SIZE)
    for path_name, view in views.items():
        difference = np.abs(view.astype(np.float64) - reference)
        worst = names[int(difference.max(axis=(1, 2)).argmax())]
        assert difference.max() <= 1.0, f"{path_name} differs by {difference.max()} grey levels on {worst}"


def test_formats_of_the_same_pixels_agree(setup):
    names, views = _views_by_path(setup)
    reference = views["tf.data / evaluate"]
    png8 = reference[names.index("png8")]
    for name in ("png16_12bit", "dicom_monochrome1", "rgba"):
        assert np.abs(reference[names.index(name)] - png8).max() <= 1.0, name
    assert np.abs(reference[names.index("jpeg")] - png8).mean() <= 1.0


def test_predict_scores_what_evaluation_scores(setup):
    from keras_cxr.data.pipeline import make_dataset
    from keras_cxr.models.loading import load_classifier
    from keras_cxr.predict import predict_paths

    folder, paths, run = setup
    loaded = load_classifier(run)
    dataset = make_dataset(folder / "m.csv", image_size=SIZE, channels=1, batch_size=8, shuffle=False,
                           converter=loaded.converter)
    evaluated = np.asarray(loaded.model.predict(dataset, verbose=0))
    predicted = predict_paths(run, list(paths.values()))
    for row, result in zip(evaluated, predicted):
        np.testing.assert_allclose([result["probabilities"][c] for c in ("a", "b")], row, atol=1e-5)
