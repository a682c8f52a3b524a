"""``keras-cxr explain`` on a briefly trained model, with lesion masks."""

import json

import numpy as np

from keras_cxr.cli import main
from keras_cxr.data import generate_dataset


def test_explain_writes_overlays_maps_gallery_and_pointing_game(tmp_path, capsys):
    data = tmp_path / "data"
    generate_dataset(data, per_class=3, size=64, seed=0)
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1",
                 "model.name=vgg80_multibranch", "model.input_size=32", "training.batch_size=4"]) == 0
    (data / "images" / "Normal" / "broken.png").write_bytes(b"")
    code = main(["explain", "--model", str(tmp_path / "run"), "--method", "gradcam,lime", "--lime-samples", "30",
                 "--batch-size", "5", "--masks", str(data / "masks"), "--out", str(tmp_path / "ex"), str(data / "images")])
    assert code == 1  # the broken file is reported, the rest explained
    out = capsys.readouterr().out
    assert "skipped" in out and "broken.png" in out and "pointing-game hit rate" in out
    summary = json.loads((tmp_path / "ex" / "summary.json").read_text())
    assert summary["images"] == 12 and len(summary["explanations"]) == 24
    assert [r["method"] for r in summary["explanations"]] == ["gradcam"] * 12 + ["lime"] * 12  # grouped by method
    assert set(summary["pointing_game"]) == {"gradcam", "lime"}
    assert summary["pointing_game"]["gradcam"]["images"] == 9  # normal images have no lesion
    for record in summary["explanations"]:
        heatmap = np.load(record["map"])
        assert heatmap.shape == (64, 64) and 0 <= heatmap.min() and heatmap.max() <= 1
        assert record["explained"] == record["predicted"]
    assert (tmp_path / "ex" / "gradcam" / "synth_covid-19_0000_0.png").is_file()
    assert (tmp_path / "ex" / "gallery_gradcam.png").is_file() and (tmp_path / "ex" / "gallery_lime.png").is_file()


def test_explain_errors(tmp_path, capsys):
    assert main(["explain", "--model", str(tmp_path / "none"), "--out", str(tmp_path / "o"), str(tmp_path)]) == 2
    assert "Model not found" in capsys.readouterr().err
