import csv
import json

import pytest

from keras_cxr.crossval.table import markdown, summarize_folds, write_tables


def _row(name, accuracy, macro_f1, auc, scored=10, images=10, notes=()):
    return {"fold": name, "held_out": name, "images": images, "scored": scored, "class_mix": {"a": 6, "b": 4},
            "train_images": 30, "val_images": 8, "accuracy": accuracy,
            "accuracy_ci": [None, None] if accuracy is None else [accuracy - 0.1, accuracy + 0.1],
            "macro_f1": macro_f1, "macro_auc": auc, "notes": list(notes)}


def _result(rows):
    return {"data": "d.csv", "by": "source", "k": None, "seed": 0, "val_fraction": 0.2, "classes": ["a", "b"],
            "folds": rows, "summary": summarize_folds(rows)}


def test_summary_is_the_mean_and_sample_std_over_folds_where_defined():
    rows = [_row("x", 0.5, 0.4, 0.6), _row("y", 0.7, 0.6, None, scored=30, images=30), _row("z", 0.9, 0.8, 0.8)]
    summary = summarize_folds(rows)
    assert summary["accuracy"]["mean"] == pytest.approx(0.7) and summary["accuracy"]["std"] == pytest.approx(0.2)
    assert summary["macro_auc"] == {"mean": pytest.approx(0.7), "std": pytest.approx(0.1414, abs=1e-4), "folds": 2}
    assert summary["pooled_accuracy"] == pytest.approx((5 + 21 + 9) / 50)
    unscored = _row("u", None, None, None, scored=0)
    assert summarize_folds([unscored])["accuracy"] == {"mean": None, "std": None, "folds": 0}


def test_tables_show_every_fold_and_the_spread(tmp_path):
    rows = [_row("x", 0.5, 0.4, 0.6), _row("y", 0.7, 0.6, None, scored=6, notes=["class c absent from training"])]
    result = _result(rows)
    write_tables(result, tmp_path)
    text = (tmp_path / "crossval.md").read_text()
    assert text.startswith("# Leave-one-source-out cross-validation")
    assert "| x | 10 | a 6, b 4 | 30 / 8 | 50.0% (40.0-60.0) | 40.0% | 0.600 |  |" in text
    assert "| y | 10 (6 scored) |" in text and "| n/a | class c absent from training |" in text
    assert "| mean ± std (2 folds) | 20 | | | 60.0 ± 14.1% | 50.0 ± 14.1% | 0.600 | |" in text
    with open(tmp_path / "crossval.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["fold"] for r in table] == ["x", "y", "mean", "std"]
    assert float(table[0]["accuracy_ci_lower"]) == pytest.approx(0.4) and table[0]["class_mix"] == "a: 6; b: 4"
    assert json.loads((tmp_path / "crossval.json").read_text())["folds"][1]["notes"] == ["class c absent from training"]
    assert markdown({**result, "by": None, "k": 2}).startswith("# 2-fold patient-grouped cross-validation")
