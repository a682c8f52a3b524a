"""``keras-cxr evaluate`` and ``compare`` on a briefly trained model."""

import csv
import json

import pytest

from keras_cxr.cli import main
from keras_cxr.data import generate_dataset, read_manifest, split_manifest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    manifest = split_manifest(generate_dataset(root / "data", per_class=6, size=48, seed=0), val=0.25, test=0.25,
                              seed=0)
    manifest.write(root / "split.csv")
    code = main(["train", "--data", str(root / "split.csv"), "--out", str(root / "run"), "--epochs", "1",
                 "model.name=resnet18", "model.input_size=32", "training.batch_size=8", "model.weights=null"])
    assert code == 0
    return root


def test_evaluate_writes_every_file(trained, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(trained / "run"), "--data", str(trained / "split.csv"), "--out", str(out),
                 "--positive-class", "COVID-19", "--tta", "--bootstrap", "100"]) == 0
    assert "accuracy" in capsys.readouterr().out
    for name in ("predictions.csv", "metrics.json", "confusion_matrix.png", "roc_curves.png",
                 "reliability_diagram.png", "report.md"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "per_class", "average", "keras_micro", "positive_vs_rest", "roc_auc", "confusion_matrix",
                "true_class_probability", "bootstrap_95ci", "calibration", "model", "throughput"):
        assert key in metrics, key
    assert set(metrics["bootstrap_95ci"]) == {"accuracy", "macro_f1", "positive_sensitivity"}
    assert metrics["throughput"]["batch_1"] > 0 and metrics["throughput"]["batch_32"] > 0
    assert metrics["model"]["params"] > 0 and metrics["data"]["tta"] is True
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["num_images"]
    # The manifest's own columns travel with every prediction (per-group analyses need them).
    assert list(rows[0]) == ["path", "true_label", "predicted_label", "prob_COVID-19", "prob_Bacterial Pneumonia",
                             "prob_Viral Pneumonia", "prob_Normal", "patient_id", "source", "mask_path", "split"]
    assert {r["split"] for r in rows} == {"test"}
    report = (out / "report.md").read_text()
    assert "![Confusion matrix](confusion_matrix.png)" in report and "COVID-19 versus the rest" in report


def test_class_map_and_mismatch(trained, tmp_path, capsys):
    external = tmp_path / "external.csv"
    read_manifest(trained / "split.csv").relabel({"COVID-19": "covid", "Normal": "healthy"}).write(external)
    args = ["evaluate", "--model", str(trained / "run" / "model.keras"), "--data", str(external),
            "--out", str(tmp_path / "e"), "--bootstrap", "10"]
    # model.keras inside a run directory finds classes.json beside it
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "do not match the model's classes" in err and "covid" in err and "COVID-19" in err
    (tmp_path / "map.json").write_text(json.dumps({"covid": "COVID-19", "healthy": "Normal"}))
    assert main(args + ["--class-map", str(tmp_path / "map.json")]) == 0
    assert json.loads((tmp_path / "e" / "metrics.json").read_text())["data"]["class_map"] == {
        "covid": "COVID-19", "healthy": "Normal"}


def test_compare_builds_the_table(trained, tmp_path):
    dirs = []
    for split in ("test", "val"):
        out = tmp_path / split
        assert main(["evaluate", "--model", str(trained / "run"), "--data", str(trained / "split.csv"),
                     "--split", split, "--out", str(out), "--positive-class", "COVID-19", "--bootstrap", "10"]) == 0
        dirs.append(str(out))
    assert main(["compare", *dirs, "--out", str(tmp_path / "table.md")]) == 0
    table = (tmp_path / "table.md").read_text().splitlines()
    assert table[0].startswith("| model | input | params (M) | GMACs | accuracy (%)")
    assert len(table) == 4 and "resnet18" in table[2]
    assert (tmp_path / "table.csv").is_file()
    with pytest.raises(FileNotFoundError):
        from keras_cxr.evaluation import write_comparison
        write_comparison([str(tmp_path)], tmp_path / "x.md")
