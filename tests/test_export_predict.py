"""``keras-cxr export`` in every format and quantisation, and ``keras-cxr predict`` from each."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_cxr.cli import main
from keras_cxr.data import generate_dataset
from keras_cxr.models import build_model

CLASSES = ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small network with decisive outputs (parity must not hinge on near-ties)."""
    root = tmp_path_factory.mktemp("export")
    keras.utils.set_random_seed(3)
    model = build_model("resnet18", 4, input_shape=(32, 32, 3))
    head = model.get_layer("classifier_predictions")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 40.0, bias])
    model.save(root / "model.keras")
    (root / "classes.json").write_text(json.dumps(CLASSES))
    generate_dataset(root / "data", per_class=3, size=48, seed=1)
    return root


@pytest.mark.parametrize("quantize", ["none", "float16", "dynamic", "int8"])
def test_tflite_export_in_every_quantisation(model_dir, tmp_path, quantize, capsys):
    out = tmp_path / quantize / "model.tflite"
    assert main(["export", "--model", str(model_dir), "--format", "tflite", "--quantize", quantize,
                 "--calibration-data", str(model_dir / "data"), "--out", str(out)]) == 0
    assert "top-1 agreement" in capsys.readouterr().out
    report = json.loads((out.parent / "export_report.json").read_text())
    labels = json.loads((out.parent / "labels.json").read_text())
    assert labels["classes"] == CLASSES and labels["input"]["dtype"] == "uint8"
    assert report["passed"] and report["parity"]["images"] == 12
    if quantize == "none":
        assert report["parity"]["top1_agreement"] == 1.0 and report["parity"]["max_abs_prob_diff"] < 1e-4
    elif quantize == "float16":
        assert report["parity"]["top1_agreement"] == 1.0 and report["parity"]["max_abs_prob_diff"] < 0.02
    else:
        assert report["parity"]["top1_agreement"] >= 0.75 and report["parity"]["max_abs_prob_diff"] < 0.5
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_path=str(out)).get_input_details()[0]
    assert list(details["shape"]) == [1, 32, 32, 1] and details["dtype"] == np.uint8


def test_saved_model_export_and_predict_from_every_format(model_dir, tmp_path, capsys):
    saved = tmp_path / "saved_model"
    assert main(["export", "--model", str(model_dir), "--format", "saved_model", "--out", str(saved)]) == 0
    assert (saved / "saved_model.pb").is_file() and (saved / "labels.json").is_file()
    tflite = tmp_path / "tfl" / "model.tflite"
    assert main(["export", "--model", str(model_dir / "model.keras"), "--out", str(tflite)]) == 0
    images = model_dir / "data" / "images" / "COVID-19"
    predictions = {}
    for name, path in (("keras", model_dir), ("saved_model", saved), ("tflite", tflite)):
        capsys.readouterr()
        assert main(["predict", "--model", str(path), "--json", str(images)]) == 0
        predictions[name] = json.loads(capsys.readouterr().out)
    assert len(predictions["keras"]) == 3
    for name in ("saved_model", "tflite"):
        for a, b in zip(predictions["keras"], predictions[name]):
            assert a["predicted"] == b["predicted"]
            assert np.allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-3)
    assert set(predictions["tflite"][0]["probabilities"]) == set(CLASSES)


def test_tflite_predict_does_not_import_tensorflow(model_dir, tmp_path):
    tflite = tmp_path / "model.tflite"
    assert main(["export", "--model", str(model_dir), "--out", str(tflite)]) == 0
    image = next((model_dir / "data" / "images").rglob("*.png"))
    code = (
        "import sys, json\n"
        "from keras_cxr.cli import main\n"
        f"code = main(['predict', '--model', {str(tflite)!r}, '--json', {str(image)!r}])\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY [] CODE 0" in result.stdout
    assert '"predicted"' in result.stdout


def test_bad_images_get_a_per_file_error(model_dir, tmp_path, capsys):
    tflite = tmp_path / "model.tflite"
    main(["export", "--model", str(model_dir), "--out", str(tflite)])
    folder = tmp_path / "imgs"
    folder.mkdir()
    good = next((model_dir / "data" / "images").rglob("*.png"))
    (folder / "good.png").write_bytes(good.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    capsys.readouterr()
    assert main(["predict", "--model", str(tflite), str(folder)]) == 1
    out = capsys.readouterr().out
    assert "broken.png: ERROR" in out and "good.png:" in out and "COVID-19" in out


def test_export_errors(model_dir, tmp_path, capsys):
    assert main(["export", "--model", str(model_dir), "--format", "saved_model", "--quantize", "int8",
                 "--out", str(tmp_path / "x")]) == 2
    assert "tflite only" in capsys.readouterr().err


def test_unconvertible_layer_is_named():
    from keras import ops

    from keras_cxr.export.edge_graph import build_edge_model
    from keras_cxr.export.saved_model import export_saved_model
    from keras_cxr.export.tflite import ConversionError, convert

    class Orthogonalise(keras.layers.Layer):
        def call(self, x):
            q, _ = ops.linalg.qr(x[..., 0])
            return q[..., None]

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D()(Orthogonalise(name="orthogonalise")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    edge = build_edge_model(model)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        export_saved_model(edge, Path(tmp) / "sm")
        with pytest.raises(ConversionError, match="layer 'orthogonalise' \\(op Qr\\)"):
            convert(Path(tmp) / "sm", "none", model=edge)
