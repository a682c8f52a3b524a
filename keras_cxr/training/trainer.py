"""One call (or one command) from a config and a dataset to a finished run directory.

``train(config, data, run_dir)`` writes to ``run_dir``: ``config.yaml`` (resolved),
``classes.json``, ``preprocessing.json`` (the image converter evaluation and export reuse), ``split.csv`` (+ ``split.json``, the split used), ``model.keras``
(best by ``training.monitor``), ``checkpoints/`` (last epoch, with optimizer
state), ``state.json``, ``history.csv``, ``logs/`` (TensorBoard),
``training_curves.png`` and ``versions.json``. Running it again on the same
run directory continues after the last completed epoch.
"""

import dataclasses
import json
import math
import shutil
import sys
from pathlib import Path

from keras_cxr.data.manifest import Manifest, format_counts, load_any
from keras_cxr.data.splits import split_manifest
from keras_cxr.training import recipe, runtime
from keras_cxr.training.callbacks import BEST_MODEL, CHECKPOINT_DIR, STATE_FILE, RunCheckpoint, read_state
from keras_cxr.training.config import dump_config, fingerprint, load_config, validate
from keras_cxr.utils.logging import get_logger


class RunDirectoryError(ValueError):
    """The output directory holds something this run must not overwrite."""


@dataclasses.dataclass
class TrainResult:
    run_dir: Path
    model: object
    history: list
    best_epoch: int
    best_value: float
    classes: list


def _prepare_run_dir(run_dir, config, resume, overwrite):
    """Returns the existing state to continue from, or None for a fresh run."""
    run_dir = Path(run_dir)
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
    if not run_dir.exists() or not any(run_dir.iterdir()):
        run_dir.mkdir(parents=True, exist_ok=True)
        return None
    state = read_state(run_dir)
    if state is None:
        if resume and (run_dir / "split.csv").is_file():
            return None  # killed before the first epoch finished: start again, same split
        raise RunDirectoryError(
            f"{run_dir} is not empty and holds no keras_cxr run; choose another --out or pass --overwrite"
        )
    if state.get("fingerprint") != fingerprint(config) and not resume:
        raise RunDirectoryError(
            f"{run_dir} holds a different run (its config differs from this one). "
            "Pass --resume to continue it with this config, or --overwrite to start again"
        )
    return state


def _prepare_split(data, config, run_dir):
    """The split manifest of this run: the saved one when resuming, else made and saved."""
    saved = Path(run_dir) / "split.csv"
    wanted = config["data"]["classes"]
    if saved.is_file():
        manifest = load_any(saved)
    else:
        manifest = load_any(data)
        if not manifest.has_splits():
            d = config["data"]
            manifest = split_manifest(manifest, val=d["val_fraction"], test=d["test_fraction"], seed=d["split_seed"])
    if wanted is not None:
        if set(wanted) != set(manifest.classes):
            raise ValueError(
                f"The data's classes {manifest.classes} do not match the config's data.classes {wanted}. "
                "Relabel the data (keras-cxr data manifest --relabel) or set data.classes"
            )
        manifest = Manifest(manifest.records, list(wanted), manifest.root, manifest.meta)
    if not saved.is_file():
        manifest.write(saved)
    for split in ("train", "val"):
        subset = manifest.subset(split)
        if not subset.records:
            raise ValueError(f"The {split} split is empty; check data.val_fraction or the data's split column")
        missing = [c for c, n in subset.counts().items() if n == 0]
        if split == "train" and missing:
            raise ValueError(f"The train split has no images of {missing}")
    return manifest


def _verbosity(verbose):
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


def train(config, data, run_dir, *, resume=False, overwrite=False, verbose="auto"):
    """Train ``config`` (a dict or YAML path) on ``data`` (manifest or folder) into ``run_dir``."""
    import keras

    from keras_cxr.data.pipeline import make_dataset
    from keras_cxr.models import build_model, load_model

    config = load_config(config) if isinstance(config, (str, Path)) else validate(config)
    log = get_logger()
    run_dir = Path(run_dir)
    state = _prepare_run_dir(run_dir, config, resume, overwrite)
    manifest = _prepare_split(data, config, run_dir)
    classes = manifest.classes
    log.info("Data split:\n%s", format_counts(manifest))

    t, m, d = config["training"], config["model"], config["data"]
    runtime.set_seeds(t["seed"], t["deterministic"])
    runtime.set_precision(t["mixed_precision"])
    strategy = runtime.get_strategy(t["distribution"])

    from keras_cxr.models import get_spec

    spec = get_spec(m["name"])
    size = m["input_size"] or spec.default_input_shape[0]
    input_shape = (size, size, m["channels"])
    train_manifest, val_manifest = manifest.subset("train"), manifest.subset("val")
    common = dict(image_size=size, channels=m["channels"], batch_size=t["batch_size"], seed=t["seed"],
                  deterministic=t["deterministic"], skip_bad=d["skip_bad"],
                  bad_file_report=run_dir / "bad_files.csv")
    cache = d["cache"]
    # Several replicas need equal shares of every batch (a ragged last batch fails inside
    # tf.distribute's all-reduce), so multi-replica runs drop it, and say so for validation.
    ragged = strategy.num_replicas_in_sync > 1
    if ragged and len(val_manifest) % t["batch_size"]:
        log.warning("Distributed run: the last %d validation image(s) are left out of per-epoch validation "
                    "(keras-cxr evaluate scores them all)", len(val_manifest) % t["batch_size"])
    if ragged and len(val_manifest) < t["batch_size"]:
        raise ValueError(f"A distributed run needs at least batch_size={t['batch_size']} validation images")
    # Validation (and later evaluation) sees the preset's test-time geometry: the centre crop of what training crops.
    train_ds = make_dataset(train_manifest, augment=d["augment"], shuffle=True, training=True, drop_remainder=ragged,
                            cache=(cache if cache in (None, "memory", "auto") else f"{cache}_train"), **common)
    val_ds = make_dataset(val_manifest, augment=d["augment"], shuffle=False, training=False, drop_remainder=ragged,
                          cache=(cache if cache in (None, "memory", "auto") else f"{cache}_val"), **common)
    steps_per_epoch = math.ceil(train_ds.num_examples / t["batch_size"])

    with strategy.scope():
        if state and state.get("checkpoint") and (run_dir / CHECKPOINT_DIR / state["checkpoint"]).is_file():
            model = load_model(run_dir / CHECKPOINT_DIR / state["checkpoint"], compile=True)
            log.info("Resuming %s after epoch %d of %d", run_dir, state["epoch"], t["epochs"])
        else:
            state = None
            model = build_model(m["name"], len(classes), input_shape=input_shape, weights=m["weights"], **m["options"])
            model.compile(
                optimizer=recipe.build_optimizer(config, steps_per_epoch),
                loss=recipe.build_loss(config),
                metrics=recipe.default_metrics(),
                jit_compile=t["jit_compile"],
            )
    weights = recipe.class_weights(config, train_manifest)
    if weights:
        log.info("Class weights: %s", {classes[i]: round(w, 4) for i, w in weights.items()})

    state = state or {"epoch": 0, "history": [], "best_value": None, "best_epoch": None}
    state["fingerprint"] = fingerprint(config)
    (run_dir / "config.yaml").write_text(dump_config(config))
    (run_dir / "classes.json").write_text(json.dumps(classes, indent=2) + "\n")
    train_ds.converter.save(run_dir)
    (run_dir / "versions.json").write_text(json.dumps(runtime.environment_versions(), indent=2) + "\n")

    if state["epoch"] < t["epochs"]:
        callbacks = [
            RunCheckpoint(run_dir, state, monitor=t["monitor"], title=f"{m['name']} ({run_dir.name})"),
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
        ]
        model.fit(train_ds, validation_data=val_ds, epochs=t["epochs"], initial_epoch=state["epoch"],
                  class_weight=weights, callbacks=callbacks, verbose=_verbosity(verbose), shuffle=False)
    else:
        log.info("%s already finished %d epochs; nothing to train", run_dir, t["epochs"])
    final = read_state(run_dir)
    best = load_model(run_dir / BEST_MODEL) if (run_dir / BEST_MODEL).is_file() else model
    log.info("Best %s = %.4f at epoch %d; model: %s", t["monitor"], final["best_value"], final["best_epoch"] + 1,
             run_dir / BEST_MODEL)
    return TrainResult(run_dir, best, final["history"], final["best_epoch"], final["best_value"], classes)


__all__ = ["RunDirectoryError", "STATE_FILE", "TrainResult", "train"]
