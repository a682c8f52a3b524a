"""Where the list of unreadable files goes: the output folder a command was given, never the working directory."""

import keras
import pytest

from keras_cxr.cli import main
from keras_cxr.data import BadFilesError, generate_dataset
from keras_cxr.evaluation.evaluator import evaluate
from keras_cxr.models.loading import LoadedModel


@pytest.fixture
def data_with_a_bad_file(tmp_path, monkeypatch):
    """A synthetic dataset with one broken PNG; the test runs in an empty working directory."""
    generate_dataset(tmp_path / "data", per_class=1, size=32, seed=0)
    broken = next((tmp_path / "data" / "images").rglob("*.png"))
    broken.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path / "data", broken


def test_evaluate_lists_bad_files_in_its_out_folder(data_with_a_bad_file, tmp_path):
    data, broken = data_with_a_bad_file
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Flatten(), keras.layers.Dense(4, "softmax")])
    loaded = LoadedModel(model, ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"], "tiny",
                         tmp_path / "nowhere" / "model.keras")
    with pytest.raises(BadFilesError, match=broken.name):
        evaluate(loaded, data, tmp_path / "eval", split=None, throughput=False, bootstrap_resamples=0)
    assert broken.name in (tmp_path / "eval" / "bad_files.csv").read_text()
    assert list((tmp_path / "cwd").iterdir()) == []


def test_data_check_writes_its_report_to_out(data_with_a_bad_file, tmp_path, capsys):
    data, broken = data_with_a_bad_file
    assert main(["data", "check", str(data)]) == 1
    assert broken.name in capsys.readouterr().out and list((tmp_path / "cwd").iterdir()) == []
    assert main(["data", "check", str(data), "--out", str(tmp_path / "check")]) == 1
    assert broken.name in (tmp_path / "check" / "bad_files.csv").read_text()
    assert "unreadable files: 1" in (tmp_path / "check" / "check.txt").read_text()
