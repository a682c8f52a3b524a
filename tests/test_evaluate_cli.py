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


def _args(trained, data, out, *extra):
    return ["evaluate", "--model", str(trained / "run"), "--data", str(data), "--out", str(out), "--bootstrap", "20",
            *extra]


def test_training_images_are_refused_and_reported(trained, tmp_path, capsys):
    assert main(_args(trained, trained / "split.csv", tmp_path / "e", "--split", "train")) == 2
    err = capsys.readouterr().err
    train_rows = read_manifest(trained / "split.csv").subset("train").records
    assert f"{len(train_rows)} of {len(train_rows)} evaluation image(s) overlap the run's training split" in err
    assert "--allow-overlap" in err
    assert main(_args(trained, trained / "split.csv", tmp_path / "e", "--split", "train", "--allow-overlap")) == 0
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["training_overlap"]["images_overlapping"] == len(train_rows)
    assert "they overstate performance" in (tmp_path / "e" / "report.md").read_text()


def test_data_without_a_split_column_uses_the_run_split_or_is_refused(trained, tmp_path, capsys):
    manifest = read_manifest(trained / "split.csv")
    unsplit = tmp_path / "unsplit.csv"
    type(manifest)([{k: v for k, v in r.items() if k != "split"} for r in manifest.records], manifest.classes,
                   manifest.root).write(unsplit)
    assert main(_args(trained, unsplit, tmp_path / "own")) == 0
    metrics = json.loads((tmp_path / "own" / "metrics.json").read_text())
    assert metrics["num_images"] == len(manifest.subset("test"))
    assert "run's own split.csv" in metrics["data"]["selection"]
    assert metrics["training_overlap"]["images_overlapping"] == 0

    # Other data without a split column: refused unless every image is asked for.
    external = generate_dataset(tmp_path / "ext", per_class=2, size=48, seed=9)
    external = type(external)([dict(r, patient_id="ext_" + r["patient_id"]) for r in external.records],
                              external.classes, external.root)
    external.write(tmp_path / "ext.csv")
    assert main(_args(trained, tmp_path / "ext.csv", tmp_path / "x")) == 2
    assert "--all-images" in capsys.readouterr().err
    assert main(_args(trained, tmp_path / "ext.csv", tmp_path / "x", "--all-images")) == 0
    assert json.loads((tmp_path / "x" / "metrics.json").read_text())["num_images"] == len(external)


def test_a_copied_training_file_is_caught(trained, tmp_path, capsys):
    import shutil

    manifest = read_manifest(trained / "split.csv")
    source = manifest.resolve(manifest.subset("train").records[0])
    shutil.copy(source, tmp_path / "renamed.png")
    (tmp_path / "copy.csv").write_text("path,label,patient_id,source\nrenamed.png,COVID-19,someone_else,other\n")
    assert main(_args(trained, tmp_path / "copy.csv", tmp_path / "c", "--all-images")) == 2
    err = capsys.readouterr().err
    assert "identical file" in err and "renamed.png" in err and source.name in err


def test_group_by_matches_hand_computed_figures(trained, tmp_path, capsys):
    manifest = read_manifest(trained / "split.csv")
    rows = [dict(r, site="A" if int(r["patient_id"][-4:]) % 2 else "B") for r in manifest.records]
    type(manifest)(rows, manifest.classes, manifest.root).write(tmp_path / "sites.csv")
    assert main(_args(trained, tmp_path / "sites.csv", tmp_path / "g", "--group-by", "site",
                      "--positive-class", "COVID-19", "--no-throughput")) == 0
    metrics = json.loads((tmp_path / "g" / "metrics.json").read_text())
    with open(tmp_path / "g" / "predictions.csv") as handle:
        predictions = list(csv.DictReader(handle))
    assert {p["site"] for p in predictions} == set(metrics["by_group"])
    for site, figures in metrics["by_group"].items():
        mine = [p for p in predictions if p["site"] == site]
        assert figures["num_images"] == len(mine)
        accuracy = sum(p["true_label"] == p["predicted_label"] for p in mine) / len(mine)
        assert figures["accuracy"]["value"] == pytest.approx(accuracy)
        assert figures["accuracy"]["lower"] <= accuracy <= figures["accuracy"]["upper"]
        covid = [p for p in mine if p["true_label"] == "COVID-19"]
        if covid:
            sensitivity = sum(p["predicted_label"] == "COVID-19" for p in covid) / len(covid)
            assert figures["positive_sensitivity"]["value"] == pytest.approx(sensitivity)
    assert (tmp_path / "g" / "by_site.png").is_file()
    report = (tmp_path / "g" / "report.md").read_text()
    assert "## By site" in report and "throughput not measured (--no-throughput)" in report
    assert main(_args(trained, tmp_path / "sites.csv", tmp_path / "g2", "--group-by", "hospital")) == 2
    assert "'hospital' is not a column" in capsys.readouterr().err


def test_operating_point_threshold_comes_from_the_val_split(trained, tmp_path, capsys):
    from keras_cxr.evaluation.operating_point import binary_metrics, threshold_for_sensitivity

    run, data = str(trained / "run"), str(trained / "split.csv")
    args = ["evaluate", "--model", run, "--data", data, "--positive-class", "COVID-19", "--bootstrap", "50"]
    assert main(args + ["--out", str(tmp_path / "test"), "--target-sensitivity", "0.95",
                        "--prevalence", "0.02,0.1"]) == 0
    assert "at sensitivity >= 95% on the val split" in capsys.readouterr().out
    point = json.loads((tmp_path / "test" / "metrics.json").read_text())["operating_point"]
    assert main(args + ["--out", str(tmp_path / "val"), "--split", "val"]) == 0

    def scored(folder):
        with open(tmp_path / folder / "predictions.csv") as handle:
            rows = list(csv.DictReader(handle))
        return [r["true_label"] == "COVID-19" for r in rows], [float(r["prob_COVID-19"]) for r in rows]

    assert point["threshold"] == pytest.approx(threshold_for_sensitivity(*scored("val"), 0.95), abs=1e-6)  # csv: 6 digits
    expected = binary_metrics(*scored("test"), point["threshold"])
    assert point["test"]["sensitivity"]["value"] == expected["sensitivity"]
    assert point["test_counts"] == {k: expected[k] for k in ("tp", "fn", "fp", "tn")}
    assert [p["prevalence"] for p in point["at_prevalence"]] in ([0.02, 0.1], [])
    assert "Operating point" in (tmp_path / "test" / "report.md").read_text()
    assert main(["evaluate", "--model", run, "--data", data, "--out", str(tmp_path / "x"),
                 "--target-sensitivity", "0.95"]) == 2
    assert "needs --positive-class" in capsys.readouterr().err
