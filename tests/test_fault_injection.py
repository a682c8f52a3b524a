"""SIGKILL at random moments: training, preprocessing and export leave nothing half-written.

Slow (minutes): ``python -m pytest -m slow tests/test_fault_injection.py``. Each
test kills its command 10 times (at random times, and while a checkpoint or an
output file is being written), re-runs it, and checks the invariants a user
relies on after a crash: every epoch once in ``history.csv``, a loadable
``model.keras``, a checkpoint that matches ``state.json``, and no destination
file that is only part of one.
"""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keras_cxr.data import generate_dataset
from keras_cxr.testing import TINY_TRAINING

pytestmark = pytest.mark.slow

KILLS = 10
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
TINY = TINY_TRAINING


def _cli(*args):
    return [sys.executable, "-m", "keras_cxr.cli", *map(str, args)]


def _kill_when(command, trigger, timeout=240):
    """Start ``command`` and SIGKILL it once ``trigger()`` is true; returns False if it finished first."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            return False
        if trigger():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    raise AssertionError(f"{command} neither finished nor reached its kill point in {timeout} s")


def _after(seconds):
    start = time.time()
    return lambda: time.time() - start >= seconds


def _writing(folder, pattern):
    return lambda: any(Path(folder).rglob(pattern))


def _check_run(run):
    """A killed run's invariants: state.json parses and names an existing checkpoint."""
    state_path = run / "state.json"
    if not state_path.is_file():
        return 0
    state = json.loads(state_path.read_text())
    assert (run / "checkpoints" / state["checkpoint"]).is_file(), state
    assert [r["epoch"] for r in state["history"]] == list(range(state["epoch"]))
    return state["epoch"]


def test_training_survives_sigkill_anywhere(synth, tmp_path):
    from keras_cxr.models import load_model

    run, epochs = tmp_path / "run", 8
    command = _cli("train", "--data", synth / "manifest.csv", "--out", run, "--epochs", epochs, *TINY)
    rng = random.Random(0)
    kills = 0
    for i in range(KILLS):
        # Alternate: a random moment (start-up, inside an epoch, validation) and the checkpoint write itself.
        trigger = _writing(run, "*.tmp.keras") if i % 3 == 2 else _after(rng.uniform(4.0, 14.0))
        kills += _kill_when(command, trigger)
        _check_run(run)
    result = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert kills >= KILLS - 2, f"only {kills} of {KILLS} runs were killed before finishing"
    assert _check_run(run) == epochs
    with open(run / "history.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == list(range(epochs))
    load_model(run / "model.keras")
    state = json.loads((run / "state.json").read_text())
    assert sorted(p.name for p in (run / "checkpoints").glob("*.keras")) == [state["checkpoint"]]


def test_preprocess_never_leaves_a_partial_image(tmp_path):
    from keras_cxr.data.decode import read_image

    source = tmp_path / "src"
    generate_dataset(source, per_class=25, size=384, seed=1)  # 100 images
    out = tmp_path / "pre"
    command = _cli("data", "preprocess", source / "images", out, "--denoise", "tv", "--clahe", "--workers", 1)
    rng = random.Random(1)
    kills = 0
    for i in range(KILLS):
        # After a few more finished images, or while an image is being written under its temporary name.
        done = len(list(out.rglob("*.png")))
        trigger = (_writing(out, ".*.partial") if i % 2 else
                   (lambda n=done + rng.randint(1, 6): len(list(out.rglob("*.png"))) >= n))
        kills += _kill_when(command, trigger)
        for path in out.rglob("*.png"):
            read_image(path)  # every file at a destination name is whole
    assert kills >= KILLS // 2, f"only {kills} of {KILLS} runs were killed before finishing"
    result = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    images = sorted(p.relative_to(source / "images") for p in (source / "images").rglob("*.png"))
    assert sorted(p.relative_to(out) for p in out.rglob("*.png")) == images


def test_export_never_leaves_a_partial_model(synth, tmp_path):
    from keras_cxr.cli import main
    from keras_cxr.predict.litert import LiteRTModel

    run = tmp_path / "run"
    assert main(["train", "--data", str(synth / "manifest.csv"), "--out", str(run), "--epochs", "1", *TINY]) == 0
    out = tmp_path / "export" / "model.tflite"
    command = _cli("export", "--model", run, "--format", "tflite", "--out", out)
    rng = random.Random(2)
    for i in range(KILLS):
        _kill_when(command, _after(rng.uniform(4.0, 16.0)))
        if out.exists():
            LiteRTModel(out)  # a file at the destination is always a complete flatbuffer
    result = subprocess.run(command, env=ENV, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert LiteRTModel(out).classes and json.loads((out.parent / "labels.json").read_text())["classes"]
