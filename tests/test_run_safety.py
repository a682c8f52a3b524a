"""Never lose a user's work: outputs keras_cxr may replace, run locks, honest resumes, non-finite losses."""

import json
import shutil
from pathlib import Path

import pytest

from keras_cxr.cli import main
from keras_cxr.testing import TINY_TRAINING
from keras_cxr.utils.lock import directory_lock
from keras_cxr.utils.outputs import MARKER

TINY = TINY_TRAINING


@pytest.fixture(scope="module")
def trained(synth, tmp_path_factory):
    """A finished one-epoch run; tests copy it before changing anything."""
    run = tmp_path_factory.mktemp("trained") / "run"
    assert main(_train_args(synth, run)) == 0
    return run


def _train_args(synth, run, *extra):
    return ["train", "--data", str(synth / "manifest.csv"), "--out", str(run), "--epochs", "1", *TINY, *extra]


def _copy(run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def test_overwrite_deletes_only_what_keras_cxr_wrote(synth, tmp_path, capsys, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    assert main(_train_args(synth, mine, "--overwrite")) == 2
    err = capsys.readouterr().err
    assert f"Refusing to delete {mine}" in err and "did not create it" in err
    assert (mine / "thesis.tex").read_text() == "years of work"
    # Even a keras_cxr-marked current directory is never deleted.
    (mine / MARKER).write_text("{}")
    monkeypatch.chdir(mine)
    assert main(_train_args(synth, Path("."), "--overwrite")) == 2
    assert "current directory" in capsys.readouterr().err
    assert (mine / "thesis.tex").is_file()


def test_a_second_process_on_a_locked_run_is_refused(synth, tmp_path, capsys):
    run = tmp_path / "run"
    with directory_lock(run):
        assert main(_train_args(synth, run)) == 2
    err = capsys.readouterr().err
    assert "is in use" in err and "locked by process" in err
    assert not (run / "config.yaml").exists()


def test_resume_refuses_a_changed_config_and_keeps_the_saved_one(trained, tmp_path, synth, capsys):
    run = _copy(trained, tmp_path)
    before = (run / "config.yaml").read_text()
    assert main(_train_args(synth, run, "--resume", "training.learning_rate=0.01")) == 2
    err = capsys.readouterr().err
    assert "training.learning_rate: 0.001 -> 0.01" in err and "--init-from" in err
    assert (run / "config.yaml").read_text() == before


def test_resume_without_config_uses_the_runs_own(trained, tmp_path, synth, capsys):
    run = _copy(trained, tmp_path)
    state = (run / "state.json").read_text()
    assert main(["train", "--data", str(synth / "manifest.csv"), "--out", str(run), "--resume", "--epochs", "1"]) == 0
    assert (run / "state.json").read_text() == state  # already finished: nothing retrained
    assert main(["train", "--data", str(synth / "manifest.csv"), "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "Nothing to resume" in capsys.readouterr().err


def test_missing_checkpoint_is_an_error_and_the_best_model_is_kept(trained, tmp_path, synth, capsys):
    run = _copy(trained, tmp_path)
    state = json.loads((run / "state.json").read_text())
    (run / "checkpoints" / state["checkpoint"]).unlink()
    best = (run / "model.keras").read_bytes()
    assert main(_train_args(synth, run, "--epochs", "2")) == 2
    err = capsys.readouterr().err
    assert state["checkpoint"] in err and "missing" in err and "--overwrite" in err and "--init-from" in err
    assert (run / "model.keras").read_bytes() == best


def test_init_from_starts_a_new_run_from_trained_weights(trained, tmp_path, synth):
    import keras

    from keras_cxr.models import load_model

    new = tmp_path / "finetune"
    assert main(_train_args(synth, new, "--init-from", str(trained), "training.epochs=1",
                            "training.learning_rate=0")) == 0
    record = json.loads((new / "init_from.json").read_text())
    assert record["source"] == str((trained / "model.keras").resolve()) and len(record["sha256"]) == 64
    assert not record["shape_mismatch"] and record["transferred_layers"]
    assert "init_from:" in (new / "config.yaml").read_text()
    # learning rate 0: the fine-tuned run's weights are the source's weights (BatchNorm statistics aside).
    source, tuned = load_model(trained / "model.keras"), load_model(new / "model.keras")
    kernels = [(a, b) for a, b in zip(source.weights, tuned.weights) if "kernel" in a.path]
    assert kernels and all(
        float(keras.ops.max(keras.ops.abs(a.value - b.value))) == 0.0 for a, b in kernels)


def test_non_finite_loss_stops_and_keeps_the_last_good_epoch(trained, tmp_path, synth, capsys, monkeypatch):
    import keras

    import keras_cxr.models
    from keras_cxr.training import recipe

    real_load = keras_cxr.models.load_model

    def nan_loss(y_true, y_pred):
        return keras.ops.mean(y_pred) * float("nan")

    def load_with_nan_loss(path, compile=True):
        model = real_load(path, compile=compile)
        model.compile(optimizer=model.optimizer, loss=nan_loss, metrics=recipe.default_metrics())
        return model

    monkeypatch.setattr(keras_cxr.models, "load_model", load_with_nan_loss)
    run = _copy(trained, tmp_path)
    best, state = (run / "model.keras").read_bytes(), (run / "state.json").read_text()
    assert main(_train_args(synth, run, "--epochs", "3")) == 2
    err = capsys.readouterr().err
    assert "loss became NaN or infinite in epoch 2 at batch 1" in err and "epochs 1-1 are kept" in err
    assert (run / "state.json").read_text() == state and (run / "model.keras").read_bytes() == best
    assert (run / "checkpoints" / json.loads(state)["checkpoint"]).is_file()


def test_a_run_without_a_finite_monitored_value_says_so(tmp_path):
    from keras_cxr.errors import TrainingError
    from keras_cxr.training.trainer import _result

    (tmp_path / "state.json").write_text(json.dumps({"epoch": 2, "best_value": None, "history": []}))
    config = {"training": {"monitor": "val_auc"}}
    with pytest.raises(TrainingError, match="No epoch produced a finite val_auc"):
        _result(tmp_path, config, ["a", "b"])


def test_saved_model_export_replaces_only_its_own_folder(trained, tmp_path, capsys):
    target = tmp_path / "exported"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    args = ["export", "--model", str(trained), "--format", "saved_model", "--out", str(target)]
    assert main(args) == 2
    assert "did not create it" in capsys.readouterr().err and (target / "notes.txt").is_file()
    fresh = tmp_path / "fresh"
    assert main(args[:-1] + [str(fresh)]) == 0 and (fresh / MARKER).is_file()
    first = (fresh / "saved_model.pb").stat().st_ino
    assert main(args[:-1] + [str(fresh)]) == 0  # its own export: replaced in one rename
    assert (fresh / "saved_model.pb").stat().st_ino != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported", "fresh"]  # no temporary left behind


def test_demo_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "mine.png").write_bytes(b"not the demo's")
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "was not written by keras-cxr demo" in capsys.readouterr().err
    assert (tmp_path / "data" / "mine.png").read_bytes() == b"not the demo's"
