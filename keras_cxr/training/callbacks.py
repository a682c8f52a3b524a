"""Callbacks that make a run survive being killed.

:class:`RunCheckpoint` commits each finished epoch in a fixed order: the last
checkpoint (model + optimizer state) and, if the monitored metric improved,
the best model are written to temporary files and renamed into place; then
``state.json`` (epoch count, checkpoint name, the whole history) is atomically
replaced. ``state.json`` is the commit point: a process killed at any moment,
even by SIGKILL, leaves either the previous epoch's state or this one's, never
a half-written file, and a resumed run logs every epoch exactly once.

``keep="last"`` writes ``model.keras`` after every epoch instead of only when
the monitored metric improves: for recipes that report the final epoch
(Zhong 2020's script), where picking the best epoch on the validation set
would be a different protocol. ``best_value``/``best_epoch`` then name the
last epoch.

A batch whose loss is NaN or infinite stops training at once, and the epoch it
belongs to is not committed: the weights are already ruined, so the last good
checkpoint and best model stay as they were (``nonfinite`` says where it happened).
"""

import json
from pathlib import Path

import numpy as np
import keras

from keras_cxr.training.curves import plot_training_curves, write_history_csv
from keras_cxr.utils.outputs import atomic_path, write_text_atomic

STATE_FILE = "state.json"
BEST_MODEL = "model.keras"
CHECKPOINT_DIR = "checkpoints"


def read_state(run_dir):
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def write_json_atomic(path, data):
    write_text_atomic(path, json.dumps(data, indent=2, default=float))


def current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def is_better(value, best, mode):
    if value is None or not np.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


class RunCheckpoint(keras.callbacks.Callback):
    """Best model, last checkpoint, history and curves after every epoch; see the module docstring."""

    def __init__(self, run_dir, state, monitor="val_accuracy", title=None, keep="best"):
        super().__init__()
        if keep not in ("best", "last"):
            raise ValueError(f"keep must be 'best' or 'last', got {keep!r}")
        self.keep = keep
        self.run_dir = Path(run_dir)
        self.state = state
        self.monitor = monitor
        self.mode = "min" if "loss" in monitor else "max"
        self.title = title
        self.nonfinite = None  # (epoch, batch or None) of the first non-finite loss
        self._epoch = 0
        (self.run_dir / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and self.nonfinite is None and not np.isfinite(float(loss)):
            self.nonfinite = (self._epoch, int(batch))
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.nonfinite is None and not np.isfinite(float(logs.get("loss", 0.0))):
            self.nonfinite = (int(epoch), None)
        if self.nonfinite is not None:
            self.model.stop_training = True
            return  # nothing of this epoch is committed
        logs["learning_rate"] = current_learning_rate(self.model.optimizer)
        row = {"epoch": int(epoch), **{k: float(v) for k, v in logs.items()}}
        value = row.get(self.monitor)
        if self.monitor not in row:
            raise ValueError(f"training.monitor {self.monitor!r} is not logged; logged: {sorted(row)}")
        if self.keep == "last" or is_better(value, self.state.get("best_value"), self.mode):
            self._save(self.run_dir / BEST_MODEL)
            self.state.update(best_value=value, best_epoch=int(epoch))
        name = f"epoch_{epoch + 1:04d}.keras"
        self._save(self.run_dir / CHECKPOINT_DIR / name)
        previous = self.state.get("checkpoint")
        history = [r for r in self.state.get("history", []) if r["epoch"] < epoch] + [row]
        self.state.update(epoch=int(epoch) + 1, checkpoint=name, history=history)
        write_json_atomic(self.run_dir / STATE_FILE, self.state)  # commit
        if previous and previous != name:
            (self.run_dir / CHECKPOINT_DIR / previous).unlink(missing_ok=True)
        write_history_csv(history, self.run_dir / "history.csv")
        plot_training_curves(history, self.run_dir / "training_curves.png", title=self.title)

    def _save(self, path):
        with atomic_path(path, suffix=".keras") as tmp:  # Keras insists on the extension
            self.model.save(tmp)
