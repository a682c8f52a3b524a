"""Model cards: written by evaluate and ``keras-cxr card``, copied by export, equal to metrics.json."""

import csv
import json

import pytest

from keras_cxr.cli import main
from keras_cxr.evaluation.model_card import build_card

FIELDS = ("generated", "model", "recipe", "training_data", "split_protocol", "evaluation", "calibration",
          "operating_point", "audit", "intended_use", "limitations")


def test_evaluate_writes_a_card_equal_to_its_metrics(calibrated_run, tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(calibrated_run / "run"), "--data", str(calibrated_run / "split.csv"),
                 "--out", str(out), "--bootstrap", "50", "--group-by", "source", "--positive-class", "COVID-19",
                 "--target-sensitivity", "0.9"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    card = json.loads((out / "model_card.json").read_text())
    assert set(FIELDS) <= set(card)
    evaluation = card["evaluation"]
    assert evaluation["images"] == metrics["num_images"]
    assert evaluation["accuracy"] == {"value": metrics["accuracy"], **{
        k: metrics["bootstrap_95ci"]["accuracy"][k] for k in ("lower", "upper")}}
    assert evaluation["macro_f1"]["value"] == metrics["average"]["macro"]["f1"]
    assert evaluation["macro_auc"] == metrics["roc_auc"]["macro"]
    for name, values in metrics["per_class"].items():
        assert evaluation["per_class"][name]["recall"] == values["recall"]
    assert {g: v["accuracy"] for g, v in evaluation["by_group"].items()} == {
        g: v["accuracy"] for g, v in metrics["by_group"].items()}
    assert evaluation["conformal"] == metrics["conformal"]
    assert card["calibration"]["temperature"] == metrics["temperature_scaling"]["temperature"]
    assert card["calibration"]["ece"] == metrics["calibration"]["ece"]
    assert card["operating_point"]["threshold"] == metrics["operating_point"]["threshold"]
    assert card["model"]["params"] == metrics["model"]["params"] and card["recipe"]["model"]["name"] == "mobilenet"
    mix = card["training_data"]["class_mix_by_split"]
    with open(calibrated_run / "split.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sum(mix["train"].values()) == sum(r["split"] == "train" for r in rows)
    text = (out / "model_card.md").read_text()
    assert "## Known limitations" in text and "synthetic X-rays only" in text and "Small evaluation set" in text
    assert any(line.startswith("No external validation: every evaluated source (synthetic)") for line in card["limitations"])
    assert f"{100 * metrics['accuracy']:.1f}%" in text


def test_card_command_and_export_copy(calibrated_run, tmp_path, capsys):
    run = calibrated_run / "run"
    evaluation = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--data", str(calibrated_run / "split.csv"), "--out",
                 str(evaluation), "--bootstrap", "0"]) == 0
    assert main(["card", str(run), "--evaluation", str(evaluation), "--out", str(tmp_path / "card")]) == 0
    assert "known limitation" in capsys.readouterr().out
    card = json.loads((tmp_path / "card" / "model_card.json").read_text())
    assert card["evaluation"]["accuracy"]["value"] == json.loads((evaluation / "metrics.json").read_text())["accuracy"]
    assert main(["card", str(run), "--evaluation", str(evaluation / "metrics.json")]) == 0
    assert main(["export", "--model", str(run), "--format", "tflite", "--out", str(tmp_path / "y" / "m.tflite")]) == 0
    assert (tmp_path / "y" / "model_card.md").read_text() == (run / "model_card.md").read_text()
    assert main(["card", str(run), "--audit", str(tmp_path / "nowhere")]) == 2
    assert "audit.json" in capsys.readouterr().err


def _write_split(folder, rows):
    folder.mkdir()
    with open(folder / "split.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("confounded", [True, False])
def test_a_population_confound_in_the_training_data_is_a_limitation(tmp_path, confounded):
    rows = []
    for i in range(40):
        label = ("COVID-19", "Normal")[i % 2]
        population = ("adult" if label == "COVID-19" else "pediatric") if confounded else ("adult", "pediatric")[i // 2 % 2]
        rows.append({"path": f"{i}.png", "label": label, "patient_id": f"p{i}", "source": "site", "population": population,
                     "split": "train"})
    _write_split(tmp_path / "run", rows)
    card = build_card(tmp_path / "run")
    said = [line for line in card["limitations"] if "label x population" in line]
    assert bool(said) == confounded
    if confounded:
        assert "100% adult" in said[0] and "DeGrave et al. 2021" in said[0]


def test_an_evaluation_on_a_source_unseen_in_training_is_external():
    from keras_cxr.evaluation.model_card import _external_validation

    assert _external_validation({"site_c": 10}, {"site_a": 5, "site_b": 5}) == []
    assert "every evaluated source (site_a)" in _external_validation({"site_a": 3}, {"site_a": 5, "site_b": 5})[0]
    assert "cannot be told" in _external_validation(None, {"site_a": 5})[0]


def test_export_replaces_a_card_written_for_other_weights(calibrated_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("model.keras", "classes.json", "preprocessing.json", "split.csv", "calibration.json"):
        (run / name).write_bytes((calibrated_run / "run" / name).read_bytes())
    card = build_card(run)
    card["model"]["sha1"] = "0" * 40  # as if written before the run trained on
    (run / "model_card.json").write_text(json.dumps(card))
    (run / "model_card.md").write_text("# an old card\n")
    assert main(["export", "--model", str(run), "--format", "tflite", "--out", str(tmp_path / "e" / "m.tflite")]) == 0
    exported = json.loads((tmp_path / "e" / "model_card.json").read_text())
    assert exported["model"]["sha1"] != "0" * 40 and (tmp_path / "e" / "model_card.md").read_text() != "# an old card\n"
    # The card built from the run alone says it was not evaluated.
    assert exported["evaluation"] is None and any("Not evaluated" in line for line in exported["limitations"])
