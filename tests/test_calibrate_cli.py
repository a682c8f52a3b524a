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
    from keras_cxr.uncertainty.temperature import apply_temperature

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


@pytest.fixture(scope="module")
def informative_sets(calibrated_run, tmp_path_factory):
    """A copy of the run whose calibration.json holds 300 conformal scores spread over the model's own
    probabilities, so sets at coverage 0.5 keep some classes and leave others out."""
    from keras_cxr.models.loading import model_sha1

    run = tmp_path_factory.mktemp("sets") / "run"
    run.mkdir()
    for name in ("model.keras", "classes.json", "preprocessing.json", "split.csv"):
        (run / name).write_bytes((calibrated_run / "run" / name).read_bytes())
    saved = json.loads((calibrated_run / "run" / "calibration.json").read_text())
    rows = _rows(calibrated_run / "before" / "predictions.csv")
    probabilities = sorted(float(r[f"prob_{c}"]) for r in rows for c in saved["classes"])
    scores = np.interp(np.linspace(0, 1, 300), np.linspace(0, 1, len(probabilities)), probabilities)
    saved.update(temperature=1.0, model_sha1=model_sha1(run / "model.keras"),
                 conformal={"labels": [i % 4 for i in range(300)], "true_class_probability": scores.tolist(),
                            "num_classes": 4, "class_conditional": False})
    (run / "calibration.json").write_text(json.dumps(saved))
    return run


def test_sets_that_leave_classes_out_agree_across_formats_and_outputs(informative_sets, calibrated_run, tmp_path,
                                                                       capsys):
    from keras_cxr.predict import predict_paths

    images = sorted(str(p) for p in (calibrated_run / "data").rglob("*.png"))[:12]
    keras_records = predict_paths(informative_sets, images, conformal=0.5)
    sizes = [len(r["set"]) for r in keras_records]
    assert min(sizes) < 4 and max(sizes) > 0, sizes  # sets that actually choose
    for record in keras_records:  # a set holds the classes above a probability cut, most probable first
        probs = record["probabilities"]
        assert record["set"] == sorted(record["set"], key=probs.get, reverse=True)
        if record["set"]:
            assert min(probs[c] for c in record["set"]) >= max([probs[c] for c in probs if c not in record["set"]],
                                                               default=0)
    assert main(["export", "--model", str(informative_sets), "--format", "saved_model",
                 "--out", str(tmp_path / "sm")]) == 0
    assert main(["export", "--model", str(informative_sets), "--format", "tflite", "--out",
                 str(tmp_path / "f" / "m.tflite")]) == 0
    for exported in (tmp_path / "sm", tmp_path / "f" / "m.tflite"):
        assert [r["set"] for r in predict_paths(exported, images, conformal=0.5)] == [r["set"] for r in keras_records]
    out = tmp_path / "sets.csv"
    assert main(["predict", "--model", str(informative_sets), "--out", str(out), "--conformal", "0.5", *images]) == 0
    assert [row["set_0.5"] for row in _rows(out)] == [";".join(r["set"]) for r in keras_records]
    evaluation = tmp_path / "eval"
    assert main(["evaluate", "--model", str(informative_sets), "--data", str(calibrated_run / "split.csv"),
                 "--out", str(evaluation), "--bootstrap", "0", "--conformal", "0.5"]) == 0
    conformal = json.loads((evaluation / "metrics.json").read_text())["conformal"]
    rows = _rows(evaluation / "predictions.csv")
    assert conformal["mean_set_size"] == pytest.approx(np.mean([len(r["conformal_set"].split(";")) if
                                                                r["conformal_set"] else 0 for r in rows]))
    assert conformal["coverage"] == pytest.approx(np.mean([r["true_label"] in r["conformal_set"].split(";")
                                                           for r in rows]))


def test_an_int8_export_keeps_the_temperature_float(calibrated_run, tmp_path):
    assert main(["export", "--model", str(calibrated_run / "run"), "--format", "tflite", "--quantize", "int8",
                 "--calibration-data", str(calibrated_run / "split.csv"), "--out", str(tmp_path / "m.tflite")]) == 0
    graph = json.loads((tmp_path / "export_report.json").read_text())["graph"]
    assert graph["float_ops"].get("LOG") == 1 and graph["xnnpack_partitions"] == 1


def test_overwrite_with_an_uncalibrated_model_keeps_the_csv(calibrated_run, tmp_path, capsys):
    image = next((calibrated_run / "data").rglob("*.png"))
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "model.keras").write_bytes((calibrated_run / "run" / "model.keras").read_bytes())
    out = tmp_path / "mine.csv"
    out.write_text("precious,data\n")
    assert main(["predict", "--model", str(bare / "model.keras"), "--out", str(out), "--overwrite",
                 "--conformal", "0.9", str(image)]) == 2
    assert out.read_text() == "precious,data\n"
