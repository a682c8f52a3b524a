"""``keras-cxr train`` as a user runs it: the run directory, resume after SIGKILL, early clear errors."""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from keras_cxr.cli import main
from keras_cxr.data import read_manifest
from keras_cxr.testing import TINY_TRAINING

TINY = TINY_TRAINING


def _history(run):
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


def test_two_epoch_run_writes_every_artifact(synth, tmp_path, capsys):
    run = tmp_path / "run"
    config = "li2023/convnext_at"
    code = main(["train", "--config", str(config), "--data", str(synth / "manifest.csv"), "--out", str(run),
                 "--epochs", "2", *TINY, "model.options={}", "training.schedule=warmup_cosine", "training.warmup_epochs=1",
                 "training.class_weight=balanced", "data.augment=li_convnext"])
    assert code == 0
    for name in ("config.yaml", "classes.json", "split.csv", "split.json", "model.keras", "state.json",
                 "history.csv", "training_curves.png", "versions.json"):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("epoch_0002.keras"))
    assert any((run / "logs").rglob("*tfevents*"))
    history = _history(run)
    assert [row["epoch"] for row in history] == ["0", "1"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history[0])
    assert float(history[0]["learning_rate"]) != float(history[1]["learning_rate"])
    assert json.loads((run / "classes.json").read_text()) == {
        "classes": ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"], "merged": {}}
    versions = json.loads((run / "versions.json").read_text())
    assert versions["keras"].startswith("3.") and "tensorflow" in versions
    split = read_manifest(run / "split.csv")
    assert split.has_splits()
    assert "Best val_accuracy" in capsys.readouterr().out

    # The same command again: already finished, nothing retrained, history unchanged.
    assert main(["train", "--config", str(config), "--data", str(synth / "manifest.csv"), "--out", str(run),
                 "--epochs", "2", *TINY, "model.options={}", "training.schedule=warmup_cosine", "training.warmup_epochs=1",
                 "training.class_weight=balanced", "data.augment=li_convnext"]) == 0
    assert len(_history(run)) == 2


@pytest.mark.slow  # tests/test_fault_injection.py kills training ten times; the default suite resumes in test_run_safety
@pytest.mark.parametrize("backend", ["tensorflow", pytest.param("jax", marks=pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="JAX is installed by the dev extra"))])
def test_resume_after_sigkill_logs_each_epoch_once(synth, tmp_path, backend):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "keras_cxr.cli", "train", "--data", str(synth / "manifest.csv"),
               "--out", str(run), "--epochs", "4", *TINY]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "state.json"
    deadline = time.time() + 240
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epoch"] >= 1:
            break
        assert process.poll() is None, "training exited before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = json.loads(state.read_text())["epoch"]
    assert 1 <= killed_at < 4
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Resuming {run} after epoch {killed_at}" in result.stderr
    assert [row["epoch"] for row in _history(run)] == ["0", "1", "2", "3"]
    assert len(list((run / "checkpoints").glob("*.keras"))) == 1


def test_output_directory_with_a_different_run_is_refused(synth, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--data", str(synth / "manifest.csv"), "--out", str(run), "--epochs", "1", *TINY]
    assert main(base) == 0
    capsys.readouterr()
    assert main(base + ["training.batch_size=4"]) == 2
    assert "training.batch_size: 6 -> 4" in capsys.readouterr().err
    assert main(base + ["training.batch_size=4", "--overwrite"]) == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["train", "--data", str(synth / "manifest.csv"), "--out", str(other), *TINY]) == 2
    assert "holds no keras_cxr run" in capsys.readouterr().err
    assert (other / "notes.txt").is_file()


def test_clear_early_errors(synth, tmp_path, capsys):
    args = ["train", "--data", str(synth / "manifest.csv"), "--epochs", "1", *TINY]
    assert main(args + ["--out", str(tmp_path / "a"), "data.classes=[COVID-19, Normal, Lung Opacity]",
                        "training.class_weight={Lung Opacity: 2}"]) == 2
    err = capsys.readouterr().err
    assert "do not match" in err and "Lung Opacity" in err and "Viral Pneumonia" in err
    assert "data.classes=null training.class_weight=balanced" in err
    assert main(args + ["--out", str(tmp_path / "b"), "model.name=inception_v3"]) == 2
    assert "at least 75" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "c"), "data.val_fraction=0.0"]) == 2
    assert "val split is empty" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "d"), "training.batch_size=zero"]) == 2
    assert "training.batch_size must be int" in capsys.readouterr().err


MIRRORED = r"""
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_cxr.training import load_config, train
# A distributed run validates on whole batches: 30% of 24 images leaves at least batch_size=6 for validation.
config = load_config(None, sys.argv[3:] + ["training.distribution=mirrored", "training.epochs=1",
                                           "data.val_fraction=0.3"])
result = train(config, sys.argv[1], sys.argv[2], verbose=0)
import keras_cxr.training.runtime as runtime
print("REPLICAS", runtime.get_strategy("mirrored").num_replicas_in_sync, len(result.history))
# The strategy's arithmetic with this Keras: a BatchNorm-free network loses the same on two replicas as on one
# (keras_cxr's networks normalise over each replica's share of the batch, so theirs differ).
import keras, numpy as np
x = np.random.default_rng(0).random((64, 4), dtype=np.float32)
data = tf.data.Dataset.from_tensor_slices((x, x @ np.float32([[1], [2], [-1], [0.5]]))).batch(16)
for strategy in (tf.distribute.get_strategy(), runtime.get_strategy("mirrored")):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
    print("LOSSES", model.fit(data, epochs=3, verbose=0).history["loss"])
"""


def test_mirrored_strategy_on_two_logical_cpus(synth, tmp_path):
    result = subprocess.run([sys.executable, "-c", MIRRORED, str(synth / "manifest.csv"), str(tmp_path / "run"), *TINY],
                            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REPLICAS 2 1" in result.stdout
    one, two = (json.loads(line.split(" ", 1)[1]) for line in result.stdout.splitlines() if line.startswith("LOSSES"))
    assert one[0] != one[-1]
    np.testing.assert_allclose(two, one, rtol=1e-5)
