"""Training curves as the papers show them: loss and accuracy per epoch, train and validation."""

import csv
from pathlib import Path

from keras_cxr.utils.outputs import atomic_path


def write_history_csv(history, path):
    """One row per epoch (``epoch`` first), every logged metric a column."""
    columns = ["epoch"]
    for row in history:
        columns.extend(k for k in row if k not in columns)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in history:
            writer.writerow({k: row.get(k, "") for k in columns})
    return path


def plot_training_curves(history, path, title=None):
    """Loss and accuracy (train and validation) against epoch, saved as PNG."""
    from keras_cxr.utils.plotting import pyplot

    plt = pyplot()
    epochs = [row["epoch"] + 1 for row in history]
    panels = [("loss", "Loss"), ("accuracy", "Accuracy")]
    figure, axes = plt.subplots(1, len(panels), figsize=(10, 4))
    for axis, (key, label) in zip(axes, panels):
        for prefix, style, name in (("", "-o", "train"), ("val_", "-s", "validation")):
            values = [row.get(prefix + key) for row in history]
            if any(v is not None for v in values):
                axis.plot(epochs, values, style, markersize=3, label=name)
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=110)
    plt.close(figure)
    return path
