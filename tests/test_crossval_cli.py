"""``keras-cxr crossval``: leave-one-source-out and patient k-fold on synthetic data with three sources."""

import csv
import json

import pytest

from keras_cxr.cli import main
from keras_cxr.data import Manifest, generate_dataset, read_manifest
from keras_cxr.testing import TINY_TRAINING

SOURCES = ("site_a", "site_b", "site_c")
ONLY_AT_C = "Viral Pneumonia"  # one source supplies every image of a class, as COVID-19 sources often did


def _with_sources(root):
    """The built-in set (8 images per class, 1-2 per patient) with each patient at one of three sites."""
    manifest = generate_dataset(root, per_class=8, size=48, seed=0, images_per_patient=(1, 2))
    patients = sorted({r["patient_id"] for r in manifest.records})
    rows = [dict(r, source="site_c" if r["label"] == ONLY_AT_C else SOURCES[patients.index(r["patient_id"]) % 3])
            for r in manifest.records]
    return Manifest(rows, manifest.classes, manifest.root, manifest.meta).write(root / "manifest.csv")


def _crossval(data, out, *extra):
    return main(["crossval", "--data", str(data), "--out", str(out), "--epochs", "1", "--bootstrap", "50", *extra,
                 *TINY_TRAINING])


@pytest.fixture(scope="module")
def by_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("crossval")
    data = _with_sources(root / "data")
    assert _crossval(data, root / "out", "--by", "source") == 0
    return data, root / "out"


def _paths(manifest, *splits):
    return {str(manifest.resolve(r).resolve()) for r in manifest.records if not splits or r.get("split") in splits}


def test_one_run_per_source_each_tested_on_exactly_that_source(by_source):
    data, out = by_source
    manifest = read_manifest(data)
    assert sorted(p.name for p in out.glob("fold_*")) == [f"fold_{s}" for s in SOURCES]
    for source in SOURCES:
        fold = out / f"fold_{source}"
        held = {str(manifest.resolve(r).resolve()) for r in manifest.records if r["source"] == source}
        split = read_manifest(fold / "run" / "split.csv")  # what the run trained and validated on
        left_out = read_manifest(fold / "left_out.csv") if (fold / "left_out.csv").is_file() else None
        assert not _paths(split, "train", "val") & held
        assert _paths(split, "test") | (_paths(left_out, "test") if left_out else set()) == held
        assert _paths(split) | (_paths(left_out) if left_out else set()) == _paths(manifest)  # nothing dropped
        assert (fold / "run" / "model.keras").is_file() and (fold / "evaluation" / "metrics.json").is_file()


def test_table_rows_match_each_folds_metrics(by_source):
    _, out = by_source
    result = json.loads((out / "crossval.json").read_text())
    assert [r["held_out"] for r in result["folds"]] == list(SOURCES) and result["by"] == "source"
    for row in result["folds"]:
        metrics = json.loads((out / f"fold_{row['fold']}" / "evaluation" / "metrics.json").read_text())
        ci = metrics["bootstrap_95ci"]["accuracy"]
        assert (row["accuracy"], row["accuracy_ci"], row["scored"]) == (metrics["accuracy"], [ci["lower"], ci["upper"]],
                                                                        metrics["num_images"])
        assert row["macro_auc"] == metrics["roc_auc"]["macro"]
        present = [c for c, v in metrics["per_class"].items() if v["support"]]
        assert row["macro_f1"] == pytest.approx(sum(metrics["per_class"][c]["f1"] for c in present) / len(present))
    accuracies = [r["accuracy"] for r in result["folds"]]
    assert result["summary"]["accuracy"]["mean"] == pytest.approx(sum(accuracies) / 3)
    with open(out / "crossval.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["fold"] for r in table] == [*SOURCES, "mean", "std"]
    assert [float(r["accuracy"]) for r in table[:3]] == pytest.approx(accuracies)
    text = (out / "crossval.md").read_text()
    assert text.startswith("# Leave-one-source-out cross-validation") and "| mean ± std (3 folds) |" in text
    assert all(f"| {s} |" in text for s in SOURCES)


def test_a_class_only_the_held_out_source_has_is_reported_not_dropped(by_source):
    _, out = by_source
    row = {r["held_out"]: r for r in json.loads((out / "crossval.json").read_text())["folds"]}["site_c"]
    assert row["images"] == row["scored"] + 8 and row["class_mix"][ONLY_AT_C] == 8
    assert f"class {ONLY_AT_C} absent from training in this fold: 8 held-out image(s) not scored" in row["notes"]
    assert ONLY_AT_C not in json.loads((out / "fold_site_c" / "run" / "classes.json").read_text())["classes"]
    assert "(8 scored)" in (out / "crossval.md").read_text()
    with open(out / "fold_site_c" / "left_out.csv") as handle:
        assert {r["reason"] for r in csv.DictReader(handle)} == {"class absent from training in this fold"}


def test_running_again_retrains_nothing_and_refuses_other_outputs(by_source, tmp_path, capsys):
    data, out = by_source
    states = {p: p.stat().st_mtime_ns for p in out.glob("fold_*/run/model.keras")}
    table = json.loads((out / "crossval.json").read_text())["folds"]
    assert _crossval(data, out, "--by", "source") == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("fold_*/run/model.keras")} == states
    assert json.loads((out / "crossval.json").read_text())["folds"] == table
    assert _crossval(data, out, "--folds", "2") == 2
    assert "planned differently" in capsys.readouterr().err
    assert _crossval(data, out, "--by", "source", "training.learning_rate=0.01") == 2
    err = capsys.readouterr().err
    assert "training.learning_rate: 0.001 -> 0.01" in err and "continues with the config it started with" in err
    assert {p: p.stat().st_mtime_ns for p in out.glob("fold_*/run/model.keras")} == states
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert _crossval(data, mine, "--by", "source") == 2
    assert "files keras_cxr did not write" in capsys.readouterr().err and (mine / "notes.txt").is_file()
    assert _crossval(data, out / "fold_site_a" / "run", "--by", "source") == 2
    assert "a keras_cxr run output, not a cross-validation" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--by", "site"], "no column 'site'"),
    (["--folds", "500"], "500 folds need at least 500 patients"),
])
def test_bad_requests_fail_before_training(by_source, tmp_path, capsys, args, message):
    data, _ = by_source
    assert _crossval(data, tmp_path / "out", *args) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.slow  # two more trainings; keras_cxr/crossval/folds_test.py checks the same folds without training
def test_patient_folds_test_every_image_once(by_source, tmp_path):
    data, _ = by_source
    assert _crossval(data, tmp_path / "out", "--folds", "2") == 0
    manifest = read_manifest(data)
    tested, patients = [], []
    for fold in ("fold_1", "fold_2"):
        split = read_manifest(tmp_path / "out" / fold / "run" / "split.csv")
        test = [r for r in split.records if r["split"] == "test"]
        tested += [str(split.resolve(r).resolve()) for r in test]
        patients.append({r["patient_id"] for r in test})
        assert not patients[-1] & {r["patient_id"] for r in split.records if r["split"] != "test"}
    assert sorted(tested) == sorted(_paths(manifest)) and not patients[0] & patients[1]
    result = json.loads((tmp_path / "out" / "crossval.json").read_text())
    assert result["k"] == 2 and [r["held_out"] for r in result["folds"]] == ["1", "2"]
