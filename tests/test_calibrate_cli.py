"""``keras-cxr calibrate``, then evaluate, predict --conformal and export using what it stored."""

import csv
import json

import numpy as np
import pytest

from keras_cxr.cli import main
from keras_cxr.data import generate_dataset, split_manifest


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    manifest = split_manifest(generate_dataset(root / "data", per_class=8, size=48, seed=3), val=0.25, test=0.25,
                              seed=0)
    manifest.write(root / "split.csv")
    assert main(["train", "--data", str(root / "split.csv"), "--out", str(root / "run"), "--epochs", "2",
                 "model.name=mobilenet", "model.input_size=32", "training.batch_size=8", "model.weights=null"]) == 0
    assert main(["evaluate", "--model", str(root / "run"), "--data", str(root / "split.csv"),
                 "--out", str(root / "before"), "--bootstrap", "0"]) == 0
    assert main(["calibrate", str(root / "run")]) == 0
    return root


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_calibration_is_fitted_on_the_val_split_only(calibrated):
    saved = json.loads((calibrated / "run" / "calibration.json").read_text())
    val = [r for r in _rows(calibrated / "split.csv") if r["split"] == "val"]
    assert saved["fitted_on"]["images"] == len(val) and saved["fitted_on"]["split"] == "val"
    counts = {c: sum(r["label"] == c for r in val) for c in saved["classes"]}
    assert saved["fitted_on"]["class_counts"] == counts
    assert len(saved["conformal"]["labels"]) == len(val)
    assert saved["temperature"] > 0 and saved["nll"]["after"] <= saved["nll"]["before"] + 1e-9
    assert (calibrated / "run" / "calibration_reliability.png").is_file()


def test_evaluate_applies_the_temperature_and_reports_conformal_coverage(calibrated):
    from keras_cxr.evaluation.temperature import apply_temperature

    out = calibrated / "after"
    assert main(["evaluate", "--model", str(calibrated / "run"), "--data", str(calibrated / "split.csv"),
                 "--out", str(out), "--bootstrap", "0", "--group-by", "source", "--conformal", "0.9"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    temperature = json.loads((calibrated / "run" / "calibration.json").read_text())["temperature"]
    assert metrics["temperature_scaling"]["temperature"] == temperature
    before = json.loads((calibrated / "before" / "metrics.json").read_text())
    assert "temperature_scaling" not in before and "conformal" not in before
    assert metrics["temperature_scaling"]["uncalibrated"]["ece"] == pytest.approx(before["calibration"]["ece"])
    classes = metrics["classes"]
    raw = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in _rows(calibrated / "before" / "predictions.csv")])
    rows = _rows(out / "predictions.csv")
    scaled = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    assert np.allclose(scaled, apply_temperature(raw, temperature), atol=2e-6)
    conformal = metrics["conformal"]
    assert conformal["target_coverage"] == 0.9 and conformal["images"] == len(rows)
    in_set = [r["true_label"] in r["conformal_set"].split(";") for r in rows]
    assert conformal["coverage"] == pytest.approx(np.mean(in_set))
    assert set(conformal["by_group"]) == {r["source"] for r in rows}
    report = (out / "report.md").read_text()
    assert "Calibration (temperature scaling)" in report and "Conformal prediction sets" in report


def test_predict_conformal_sets_and_exports_carry_the_calibration(calibrated, tmp_path, capsys):
    image = next((calibrated / "data").rglob("*.png"))
    capsys.readouterr()
    assert main(["predict", "--model", str(calibrated / "run"), "--json", "--conformal", "0.99", str(image)]) == 0
    keras_record = json.loads(capsys.readouterr().out)[0]
    assert keras_record["set"] and keras_record["set"][0] == keras_record["predicted"]
    assert main(["export", "--model", str(calibrated / "run"), "--format", "tflite",
                 "--out", str(tmp_path / "m.tflite")]) == 0
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["calibration"]["temperature"] == json.loads(
        (calibrated / "run" / "calibration.json").read_text())["temperature"]
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m.tflite"), "--json", "--conformal", "0.99", str(image)]) == 0
    lite_record = json.loads(capsys.readouterr().out)[0]
    assert np.allclose(list(lite_record["probabilities"].values()), list(keras_record["probabilities"].values()),
                       atol=1e-4)
    assert lite_record["set"] == keras_record["set"]
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(calibrated / "run"), "--out", str(out), "--conformal", "0.99",
                 str(image)]) == 0
    assert _rows(out)[0]["set_0.99"] == ";".join(keras_record["set"])
    assert main(["predict", "--model", str(calibrated / "run"), "--out", str(out), str(image)]) == 2
    assert "conformal" in capsys.readouterr().err


def test_conformal_needs_a_calibrated_model(calibrated, capsys):
    image = next((calibrated / "data").rglob("*.png"))
    model = calibrated / "run" / "model.keras"
    # Without calibration.json beside it: the error says what to run.
    bare = calibrated / "bare"
    bare.mkdir(exist_ok=True)
    (bare / "model.keras").write_bytes(model.read_bytes())
    assert main(["predict", "--model", str(bare / "model.keras"), "--conformal", "0.9", str(image)]) == 2
    assert "keras-cxr calibrate" in capsys.readouterr().err
    assert main(["calibrate", str(bare / "model.keras")]) == 2
    assert "give --data" in capsys.readouterr().err
