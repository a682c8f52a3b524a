"""``keras-cxr calibrate``, then evaluate, predict --conformal and export using what it stored."""

import csv
import json

import numpy as np
import pytest

from keras_cxr.cli import main


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_calibration_is_fitted_on_the_val_split_only(calibrated_run):
    saved = json.loads((calibrated_run / "run" / "calibration.json").read_text())
    val = [r for r in _rows(calibrated_run / "split.csv") if r["split"] == "val"]
    assert saved["fitted_on"]["images"] == len(val) and saved["fitted_on"]["split"] == "val"
    counts = {c: sum(r["label"] == c for r in val) for c in saved["classes"]}
    assert saved["fitted_on"]["class_counts"] == counts
    assert len(saved["conformal"]["labels"]) == len(val)
    assert saved["temperature"] > 0 and saved["nll"]["after"] <= saved["nll"]["before"] + 1e-9
    assert (calibrated_run / "run" / "calibration_reliability.png").is_file()


def test_evaluate_applies_the_temperature_and_reports_conformal_coverage(calibrated_run):
    from keras_cxr.evaluation.temperature import apply_temperature

    out = calibrated_run / "after"
    assert main(["evaluate", "--model", str(calibrated_run / "run"), "--data", str(calibrated_run / "split.csv"),
                 "--out", str(out), "--bootstrap", "0", "--group-by", "source", "--conformal", "0.9"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    temperature = json.loads((calibrated_run / "run" / "calibration.json").read_text())["temperature"]
    assert metrics["temperature_scaling"]["temperature"] == temperature
    before = json.loads((calibrated_run / "before" / "metrics.json").read_text())
    assert "temperature_scaling" not in before and "conformal" not in before
    assert metrics["temperature_scaling"]["uncalibrated"]["ece"] == pytest.approx(before["calibration"]["ece"])
    classes = metrics["classes"]
    raw = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in _rows(calibrated_run / "before" / "predictions.csv")])
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


def test_predict_conformal_sets_and_exports_carry_the_calibration(calibrated_run, tmp_path, capsys):
    image = next((calibrated_run / "data").rglob("*.png"))
    capsys.readouterr()
    assert main(["predict", "--model", str(calibrated_run / "run"), "--json", "--conformal", "0.99", str(image)]) == 0
    keras_record = json.loads(capsys.readouterr().out)[0]
    assert keras_record["set"] and keras_record["set"][0] == keras_record["predicted"]
    assert main(["export", "--model", str(calibrated_run / "run"), "--format", "tflite",
                 "--out", str(tmp_path / "m.tflite")]) == 0
    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels["calibration"]["temperature"] == json.loads(
        (calibrated_run / "run" / "calibration.json").read_text())["temperature"]
    capsys.readouterr()
    assert main(["predict", "--model", str(tmp_path / "m.tflite"), "--json", "--conformal", "0.99", str(image)]) == 0
    lite_record = json.loads(capsys.readouterr().out)[0]
    assert np.allclose(list(lite_record["probabilities"].values()), list(keras_record["probabilities"].values()),
                       atol=1e-4)
    assert lite_record["set"] == keras_record["set"]
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", str(calibrated_run / "run"), "--out", str(out), "--conformal", "0.99",
                 str(image)]) == 0
    assert _rows(out)[0]["set_0.99"] == ";".join(keras_record["set"])
    assert main(["predict", "--model", str(calibrated_run / "run"), "--out", str(out), str(image)]) == 2
    assert "conformal" in capsys.readouterr().err


def test_conformal_needs_a_calibrated_model(calibrated_run, capsys):
    image = next((calibrated_run / "data").rglob("*.png"))
    model = calibrated_run / "run" / "model.keras"
    # Without calibration.json beside it: the error says what to run.
    bare = calibrated_run / "bare"
    bare.mkdir(exist_ok=True)
    (bare / "model.keras").write_bytes(model.read_bytes())
    assert main(["predict", "--model", str(bare / "model.keras"), "--conformal", "0.9", str(image)]) == 2
    assert "keras-cxr calibrate" in capsys.readouterr().err
    assert main(["calibrate", str(bare / "model.keras")]) == 2
    assert "give --data" in capsys.readouterr().err


def test_a_calibration_fitted_for_other_weights_is_refused(calibrated_run, tmp_path, capsys):
    image = next((calibrated_run / "data").rglob("*.png"))
    run = tmp_path / "retrained"
    run.mkdir()
    for name in ("model.keras", "classes.json", "preprocessing.json", "calibration.json"):
        (run / name).write_bytes((calibrated_run / "run" / name).read_bytes())
    assert main(["predict", "--model", str(run), str(image)]) == 0
    saved = json.loads((run / "calibration.json").read_text())
    (run / "calibration.json").write_text(json.dumps(dict(saved, model_sha1="0" * 40)))
    capsys.readouterr()
    assert main(["predict", "--model", str(run), str(image)]) == 2
    assert "fitted for another model.keras" in capsys.readouterr().err


def test_calibration_warns_when_the_val_split_is_too_small(calibrated_run):
    warnings = json.loads((calibrated_run / "run" / "calibration.json").read_text())["warnings"]
    # 8 val images: a 95% set can never leave a class out.
    assert any("always hold every class" in w for w in warnings)
