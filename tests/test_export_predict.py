"""``keras-cxr export`` in every format and quantisation, and ``keras-cxr predict`` from each."""

import csv
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
from keras_cxr.testing import save_scaled_resnet18
from keras_cxr.predict import Predictor, collect_paths, csv_columns, load_predictor, predict_paths, predict_to_csv

CLASSES = ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small network with decisive outputs (parity must not hinge on near-ties)."""
    root = save_scaled_resnet18(tmp_path_factory.mktemp("export"), head_scale=40.0, classes=CLASSES)
    generate_dataset(root / "data", per_class=3, size=48, seed=1)
    return root


@pytest.fixture(scope="module")
def tflite_model(model_dir, tmp_path_factory):
    """One float32 .tflite export shared by the predict tests (each export takes seconds)."""
    out = tmp_path_factory.mktemp("tflite") / "model.tflite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_CXR_CACHE", str(out.parent / ".cache"))
        assert main(["export", "--model", str(model_dir), "--out", str(out)]) == 0
    return out


def _images(model_dir):
    return sorted((model_dir / "data" / "images").rglob("*.png"))


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
    # Accuracy and macro AUC of Keras and of the export on the calibration folder's labels, and their change.
    parity = report["parity"]
    assert parity["labelled_images"] == 12
    for metric in ("accuracy", "macro_auc"):
        assert parity[metric]["delta"] == pytest.approx(parity[metric]["export"] - parity[metric]["keras"])
        if quantize in ("none", "float16"):
            assert parity[metric]["delta"] == pytest.approx(0.0, abs=1e-6)
    # 12 images are too few to keep calibration and parity apart; the report says so.
    assert report["parity_overlaps_calibration"] == (quantize == "int8")
    assert report["calibration_images"] == (12 if quantize == "int8" else 0)
    assert report["graph"]["ops_outside_xnnpack"] == {"CAST": 1}  # all but the uint8 -> float cast in XNNPACK
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


def test_tflite_predict_does_not_import_tensorflow(model_dir, tflite_model):
    tflite = tflite_model
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


def test_bad_images_get_a_per_file_error(model_dir, tflite_model, tmp_path, capsys):
    tflite = tflite_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    good = next((model_dir / "data" / "images").rglob("*.png"))
    (folder / "good.png").write_bytes(good.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    capsys.readouterr()
    assert main(["predict", "--model", str(tflite), str(folder)]) == 1
    out = capsys.readouterr().out
    assert "broken.png: ERROR" in out and "good.png:" in out and "COVID-19" in out


def test_batched_predictions_equal_one_at_a_time(model_dir, tflite_model):
    images = [str(p) for p in _images(model_dir)[:7]]
    for model in (model_dir, tflite_model):
        one = predict_paths(model, images, batch_size=1)
        batched = predict_paths(model, images, batch_size=4)  # a batch of 4, then one of 3
        assert [r["path"] for r in one] == images == [r["path"] for r in batched]
        for a, b in zip(one, batched):
            assert a["predicted"] == b["predicted"]
            assert np.allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5)


def test_litert_allocates_once_per_batch_shape(tflite_model):
    from keras_cxr.predict.litert import LiteRTModel

    lite = LiteRTModel(tflite_model)
    allocations = []
    allocate = lite.interpreter.allocate_tensors
    lite.interpreter.allocate_tensors = lambda: allocations.append(1) or allocate()
    batch = np.zeros((4, lite.size, lite.size, 1), np.uint8)
    for images in (batch, batch, batch, batch[:3]):
        assert lite.predict_uint8(images).shape == (len(images), 4)
    assert len(allocations) == 2


def _counting(predictor, scored):
    """``predictor`` that records how many images each model call received."""
    def predict(images):
        scored.append(len(images))
        return predictor.predict_uint8(images)

    return Predictor(predict, predictor.classes, predictor.converter)


def test_predict_csv_every_class_one_row_per_image_and_unreadable_rows(model_dir, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for path in _images(model_dir)[:5]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "preds" / "predictions.csv"
    assert main(["predict", "--model", str(model_dir), "--out", str(out), "--batch-size", "4", str(folder)]) == 1
    assert "Wrote 6 row(s)" in capsys.readouterr().out
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", *[f"prob_{c}" for c in CLASSES], "predicted", "error"]
    assert sorted(Path(r["path"]).name for r in rows) == sorted([p.name for p in folder.iterdir()])
    broken = next(r for r in rows if r["path"].endswith("broken.png"))
    assert "not an image" in broken["error"] and broken["predicted"] == "" and broken["prob_Normal"] == ""
    for row in rows:
        if row is not broken:
            assert row["error"] == "" and row["predicted"] in CLASSES
            assert sum(float(row[f"prob_{c}"]) for c in CLASSES) == pytest.approx(1.0, abs=1e-4)


def test_predict_csv_resumes_without_scoring_written_rows_again(model_dir, tmp_path, capsys):
    manifest = model_dir / "data" / "manifest.csv"
    paths = collect_paths([manifest])
    assert len(paths) == 12 and all(p.is_absolute() and p.is_file() for p in paths)
    predictor, scored, out = load_predictor(model_dir), [], tmp_path / "p.csv"
    counting = _counting(predictor, scored)
    assert predict_to_csv(counting, paths[:5], out, batch_size=2)["written"] == 5
    with open(out, "a") as handle:
        handle.write(f"{paths[5]},0.12")  # a row cut off when a run was killed mid-write
    scored.clear()
    summary = predict_to_csv(counting, [manifest], out, batch_size=4)
    assert summary == {"out": str(out), "total": 12, "skipped": 5, "written": 7, "errors": 0}
    assert sum(scored) == 7  # the five rows already written were not scored again
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    assert main(["predict", "--model", str(model_dir), "--out", str(out), str(manifest)]) == 0
    assert "skipped 12 of 12" in capsys.readouterr().out


def test_predict_csv_refuses_a_file_it_cannot_resume(model_dir, tmp_path, capsys):
    image = str(_images(model_dir)[0])
    other = tmp_path / "other.csv"
    other.write_text("path,prob_cat,prob_dog,predicted,error\n")
    assert main(["predict", "--model", str(model_dir), "--out", str(other), image]) == 2
    err = capsys.readouterr().err
    assert str(other) in err and "['cat', 'dog']" in err and "COVID-19" in err and "--overwrite" in err
    notes = tmp_path / "notes.csv"
    notes.write_text("my notes\n")
    assert main(["predict", "--model", str(model_dir), "--out", str(notes), image]) == 2
    assert "not a predictions CSV" in capsys.readouterr().err and notes.read_text() == "my notes\n"
    assert main(["predict", "--model", str(model_dir), "--out", str(notes), "--overwrite", image]) == 0
    assert notes.read_text().splitlines()[0] == ",".join(csv_columns(CLASSES))
    assert len(notes.read_text().splitlines()) == 2


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
