"""One call (or one command) from a config and a dataset to a finished run directory.

``train(config, data, run_dir)`` writes to ``run_dir``: ``config.yaml`` (resolved),
``classes.json``, ``preprocessing.json`` (the image converter evaluation and export
reuse), ``split.csv`` (+ ``split.json``, the split used), ``model.keras`` (best by
``training.monitor``, or the last epoch with ``training.keep: last``), ``checkpoints/`` (last epoch, with optimizer
state), ``state.json``, ``history.csv``, ``logs/`` (TensorBoard),
``training_curves.png`` and ``versions.json``. Running it again on the same
run directory continues after the last completed epoch.
"""

import dataclasses
import hashlib
import json
import math
import shutil
import sys
from pathlib import Path

import yaml

from keras_cxr.data.manifest import format_counts
from keras_cxr.data.sources import load_any
from keras_cxr.data.splits import split_manifest
from keras_cxr.errors import TrainingError
from keras_cxr.training import recipe, runtime
from keras_cxr.training.callbacks import BEST_MODEL, CHECKPOINT_DIR, STATE_FILE, RunCheckpoint, read_state
from keras_cxr.training.config import config_differences, dump_config, fingerprint, load_config, validate
from keras_cxr.utils.lock import LOCK_FILE, directory_lock
from keras_cxr.utils.logging import get_logger
from keras_cxr.utils.outputs import MARKER, check_removable, is_marked, mark_output_dir, write_text_atomic


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


def _is_empty(run_dir):
    """No files but the marker and the lock: nothing a run could lose."""
    return not run_dir.exists() or all(p.name in (MARKER, LOCK_FILE) for p in run_dir.iterdir())


def _check_target(run_dir, resume, overwrite):
    """Before taking the lock: refuse paths this run may not write into or delete (read-only checks)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"--out {run_dir} is a file, not a directory")
    if _is_empty(run_dir):
        if resume:
            raise RunDirectoryError(f"Nothing to resume: {run_dir} holds no run. Drop --resume to start one")
        return
    if overwrite:
        check_removable(run_dir, "run directory")
    elif not is_marked(run_dir) and read_state(run_dir) is None:
        raise RunDirectoryError(f"{run_dir} is not empty and holds no keras_cxr run; choose another --out")


def _clear_run(run_dir):
    """--overwrite: delete the previous run's files, keeping the lock this process holds."""
    check_removable(run_dir, "run directory")
    for child in run_dir.iterdir():
        if child.name == LOCK_FILE:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    get_logger().info("--overwrite: deleted the previous run in %s", run_dir)


def _check_same_config(run_dir, config):
    """A run continues exactly as configured; only training.epochs may grow."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    saved = yaml.safe_load(path.read_text()) or {}
    try:
        saved = validate(saved)  # keys added since that run was made compare as their defaults
    except ValueError:
        pass
    changes = config_differences(saved, config)
    if changes:
        raise RunDirectoryError(
            f"{run_dir} holds a run trained with a different config:\n  " + "\n  ".join(changes) + "\n"
            "A resume continues exactly the saved config (only training.epochs may change). To train with this "
            f"config, start a new run from its weights (--out NEW_DIR --init-from {run_dir}) or start again "
            "(--overwrite deletes this run)")


def _check_checkpoint(run_dir, state):
    """The checkpoint ``state.json`` names must exist, or the run cannot continue where it says."""
    name = state.get("checkpoint")
    if name and not (run_dir / CHECKPOINT_DIR / name).is_file():
        best = (f"model.keras holds the best epoch ({state['best_epoch'] + 1})"
                if (run_dir / BEST_MODEL).is_file() and state.get("best_epoch") is not None else "no model.keras")
        raise RunDirectoryError(
            f"{run_dir / STATE_FILE} says epoch {state['epoch']} was saved as {CHECKPOINT_DIR}/{name}, which is "
            f"missing, so this run cannot continue ({best}). Start a new run from its best model "
            f"(--out NEW_DIR --init-from {run_dir}) or start again (--overwrite deletes this run)")


def _prepare_run_dir(run_dir, config):
    """Under the lock: the state to continue from, or None for a fresh run."""
    if _is_empty(run_dir):
        return None
    _check_same_config(run_dir, config)
    state = read_state(run_dir)
    if state is not None:
        _check_checkpoint(run_dir, state)
    return state  # None: killed before the first epoch finished; start again on the saved split


def _prepare_split(data, config, run_dir):
    """The split manifest of this run: the saved one when resuming, else made and saved.

    A recipe whose data.classes are broader than the data's (Zhong 2020's Pneumonia over
    bacterial and viral pneumonia) gets the data merged through the label vocabulary;
    the merge is logged and recorded in ``classes.json`` (``"merged"``).
    """
    from keras_cxr.data.labels import align_classes

    saved = Path(run_dir) / "split.csv"
    if saved.is_file():
        manifest = load_any(saved)
    else:
        manifest = _split(load_any(data), config["data"])
    manifest, merged = align_classes(manifest, config["data"]["classes"], config["training"]["class_weight"])
    manifest.meta["merged_classes"] = merged or manifest.meta.get("merged_classes", {})
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


def _split(manifest, d):
    """The data's own split (a published test set kept as published), else a patient-level one.

    A published split without validation images (Zhong 2020's train/test) gets ``val_fraction`` of its
    train patients as validation; ``train_fraction`` < 1 then keeps that share of the train patients
    (Covid-DenseNet's training-set-size experiments). Validation and test rows are never touched.
    """
    from keras_cxr.data.splits import carve_validation, subsample_train

    if not manifest.has_splits():
        manifest = split_manifest(manifest, val=d["val_fraction"], test=d["test_fraction"], seed=d["split_seed"])
    elif not manifest.subset("val").records and d["val_fraction"] > 0:
        get_logger().info("The data's split has no validation images: %.0f%% of the train patients become "
                          "validation (the test split is kept as published)", 100 * d["val_fraction"])
        manifest = carve_validation(manifest, d["val_fraction"], d["split_seed"])
    if d["train_fraction"] < 1.0:
        manifest = subsample_train(manifest, d["train_fraction"], d["split_seed"])
        get_logger().info("data.train_fraction=%s: %s", d["train_fraction"], manifest.meta.get("train_fraction"))
    return manifest


def _check_not_denoised_twice(manifest, config):
    """A recipe that denoises must not get images `keras-cxr data preprocess --denoise tv` already denoised."""
    from keras_cxr.data.preprocess import SETTINGS_FILE

    if not config["data"]["denoise"]:
        return
    folders = {Path(manifest.resolve(r)).parent for r in manifest.records[:1000]} | {Path(manifest.root)}
    for folder in folders:
        for candidate in (folder, *folder.parents):
            record = candidate / SETTINGS_FILE
            if record.is_file():
                options = json.loads(record.read_text()).get("options", {})
                if options.get("denoise"):
                    raise ValueError(
                        f"The images under {candidate} were denoised by keras-cxr data preprocess ({record}), and "
                        f"this recipe denoises again (data.denoise={config['data']['denoise']}): train on the "
                        "original images, or set data.denoise=null")
                break


def _verbosity(verbose):
    if verbose != "auto":
        return verbose
    return 1 if sys.stdout.isatty() else 2


def train(config, data, run_dir, *, resume=False, overwrite=False, init_from=None, verbose="auto"):
    """Train ``config`` (a dict or YAML path) on ``data`` (manifest or folder) into ``run_dir``.

    A run directory that already holds this config's run continues after its last
    epoch (``resume=True`` insists that one exists); a different config is refused.
    ``init_from`` (a run directory or ``.keras`` file) starts a new run from trained
    weights; ``overwrite`` deletes a previous keras_cxr run first (never anything else).
    Runs under the TensorFlow, JAX or PyTorch backend (``KERAS_BACKEND``), fed by tf.data on each;
    ``training.distribution`` spreads it over devices (README, "Scaling out").
    """
    config = load_config(config) if isinstance(config, (str, Path)) else validate(config)
    if init_from is not None:
        config["model"]["init_from"] = str(Path(init_from).resolve())
        config = validate(config)
    run_dir = Path(run_dir)
    _check_target(run_dir, resume, overwrite)
    with directory_lock(run_dir, "run directory"):
        if overwrite and not _is_empty(run_dir):
            _clear_run(run_dir)
        state = _prepare_run_dir(run_dir, config)
        mark_output_dir(run_dir, "run")
        write_text_atomic(run_dir / "config.yaml", dump_config(config))
        with runtime.precision(config["training"]["mixed_precision"]):
            return _train_in(run_dir, config, data, state, verbose)


def _train_in(run_dir, config, data, state, verbose):
    """The run itself, with ``run_dir`` locked and checked."""
    log = get_logger()
    manifest = _prepare_split(data, config, run_dir)
    _check_not_denoised_twice(manifest, config)
    classes = manifest.classes
    log.info("Data split:\n%s", format_counts(manifest))
    t = config["training"]
    strategy = runtime.get_strategy(t["distribution"])  # first: a multi-host JAX run connects its hosts here
    runtime.set_seeds(t["seed"], t["deterministic"])
    train_ds, val_ds, used = _datasets(config, manifest, run_dir, strategy)  # used: without skipped files
    steps_per_epoch = math.ceil(train_ds.num_examples / t["batch_size"])
    with strategy.scope():
        model, state = _model(config, run_dir, state, classes, steps_per_epoch)
    weights = recipe.class_weights(config, used.subset("train"))
    if weights:
        log.info("Class weights: %s", {classes[i]: round(w, 4) for i, w in weights.items()})
    state = state or {"epoch": 0, "history": [], "best_value": None, "best_epoch": None}
    state["fingerprint"] = fingerprint(config)
    _write_run_files(run_dir, classes, manifest.meta.get("merged_classes", {}), train_ds.converter)
    if state["epoch"] < t["epochs"]:
        with runtime.fit_scope(strategy):
            _fit(model, train_ds, val_ds, weights, config, run_dir, state, verbose)
    else:
        log.info("%s already finished %d epochs; nothing to train", run_dir, t["epochs"])
    return _result(run_dir, config, classes)


def _datasets(config, manifest, run_dir, strategy):
    """Training (augmented, shuffled) and validation (the preset's test-time geometry) datasets, and the
    train and val rows they hold (unreadable files left out with ``data.skip_bad``, else refused)."""
    from keras_cxr.data.manifest import Manifest
    from keras_cxr.data.pipeline import check_files, make_dataset
    from keras_cxr.models import get_spec

    t, m, d = config["training"], config["model"], config["data"]
    size = m["input_size"] or get_spec(m["name"]).default_input_shape[0]
    # Train and val files are checked together, so bad_files.csv lists the bad files of both splits
    # (checked one split at a time, the val split's list replaced the train split's).
    used = Manifest([r for r in manifest.records if r["split"] in ("train", "val")], manifest.classes,
                    manifest.root, manifest.meta)
    (run_dir / "bad_files.csv").unlink(missing_ok=True)  # an earlier attempt's list, files since fixed
    used, _ = check_files(used, skip_bad=d["skip_bad"], report_path=run_dir / "bad_files.csv")
    if d["skip_bad"]:
        for split in ("train", "val"):
            if not used.subset(split).records:
                raise ValueError(f"Every image of the {split} split is unreadable (see {run_dir / 'bad_files.csv'})")
    manifest = used
    val_manifest = manifest.subset("val")
    common = dict(image_size=size, channels=m["channels"], batch_size=t["batch_size"], seed=t["seed"],
                  deterministic=t["deterministic"], skip_bad=d["skip_bad"], augment=d["augment"],
                  bad_file_report=run_dir / "bad_files.csv", converter=run_converter(config))
    cache = d["cache"]
    # Several replicas need equal shares of every batch (a ragged last batch fails inside
    # tf.distribute's all-reduce, and JAX shards a batch only in equal parts), so multi-replica
    # runs drop it, and say so for validation.
    ragged = strategy.num_replicas_in_sync > 1
    runtime.check_batch_size(strategy, t["batch_size"])
    if ragged and len(val_manifest) % t["batch_size"]:
        get_logger().warning("Distributed run: the last %d validation image(s) are left out of per-epoch "
                             "validation (keras-cxr evaluate scores them all)", len(val_manifest) % t["batch_size"])
    if ragged and len(val_manifest) < t["batch_size"]:
        raise ValueError(f"A distributed run needs at least batch_size={t['batch_size']} validation images")
    file_cache = cache not in (None, "memory", "auto")
    train_ds = make_dataset(manifest.subset("train"), shuffle=True, training=True, drop_remainder=ragged,
                            cache=f"{cache}_train" if file_cache else cache, **common)
    val_ds = make_dataset(val_manifest, shuffle=False, training=False, drop_remainder=ragged,
                          cache=f"{cache}_val" if file_cache else cache, **common)
    return train_ds, val_ds, manifest


def run_converter(config):
    """The file -> model-input conversion of a recipe: its augmentation's geometry, its denoising.

    Saved with the run (``preprocessing.json``) and the export, so evaluation and prediction
    denoise exactly as training did; the tf.data cache keeps the denoised images, so each file
    is denoised once per run (``data.cache=PREFIX``: once for every run of the same data).
    """
    from keras_cxr.data.augment import get_augmentation
    from keras_cxr.models import get_spec

    m, d = config["model"], config["data"]
    size = m["input_size"] or get_spec(m["name"]).default_input_shape[0]
    converter = get_augmentation(d["augment"], size).converter(size)
    if d["denoise"]:
        converter = dataclasses.replace(converter, denoise=d["denoise"], denoise_weight=d["denoise_weight"],
                                        anscombe=d["anscombe"])
    return converter


def _model(config, run_dir, state, classes, steps_per_epoch):
    """The checkpoint to continue (compiled, with its optimizer state), or a new model compiled from the config."""
    from keras_cxr.models import build_model, get_spec, load_model

    t, m = config["training"], config["model"]
    if state and state.get("checkpoint"):
        model = load_model(run_dir / CHECKPOINT_DIR / state["checkpoint"], compile=True)
        model.run_eagerly = t["run_eagerly"]
        get_logger().info("Resuming %s after epoch %d of %d", run_dir, state["epoch"], t["epochs"])
        return model, state
    size = m["input_size"] or get_spec(m["name"]).default_input_shape[0]
    model = build_model(m["name"], len(classes), input_shape=(size, size, m["channels"]), weights=m["weights"],
                        **m["options"])
    if m["init_from"]:
        _initialize_from(model, get_spec(m["name"]), m["init_from"], run_dir)
    model.compile(optimizer=recipe.build_optimizer(config, steps_per_epoch), loss=recipe.build_loss(config),
                  metrics=recipe.default_metrics(), run_eagerly=t["run_eagerly"],
                  jit_compile=False if t["run_eagerly"] else t["jit_compile"])
    return model, None


def _initialize_from(model, spec, source, run_dir):
    """Fine-tuning: copy a trained model's weights by layer name and shape; record what moved in ``init_from.json``."""
    from keras_cxr.models.weights import load_weights

    path = Path(source)
    path = path / BEST_MODEL if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"model.init_from: no trained model at {path} (give a run directory or a .keras file)")
    report = load_weights(model, spec, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = {"source": str(path), "sha256": digest, "summary": report.summary(),
              "transferred_layers": report.transferred_layers, "new_layers": report.new_layers,
              "shape_mismatch": report.shape_mismatch}
    write_text_atomic(run_dir / "init_from.json", json.dumps(record, indent=2) + "\n")


def _write_run_files(run_dir, classes, merged, converter):
    """classes.json: the output order, and which data classes were merged into which (``{}``: none)."""
    write_text_atomic(run_dir / "classes.json", json.dumps({"classes": classes, "merged": merged}, indent=2) + "\n")
    converter.save(run_dir)
    write_text_atomic(run_dir / "versions.json", json.dumps(runtime.environment_versions(), indent=2) + "\n")


def _fit(model, train_ds, val_ds, weights, config, run_dir, state, verbose):
    """``model.fit`` from the state's epoch; a non-finite loss stops it with the last good epoch kept."""
    import keras

    t = config["training"]
    checkpoint = RunCheckpoint(run_dir, state, monitor=t["monitor"], keep=t["keep"],
                               title=f"{config['model']['name']} ({run_dir.name})")
    callbacks = [checkpoint, keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"))]
    model.fit(train_ds, validation_data=val_ds, epochs=t["epochs"], initial_epoch=state["epoch"],
              class_weight=weights, callbacks=callbacks, verbose=_verbosity(verbose), shuffle=False)
    if checkpoint.nonfinite is not None:
        epoch, batch = checkpoint.nonfinite
        kept = (f"epochs 1-{epoch} are kept (checkpoint, state.json, history.csv, best model.keras)"
                if epoch else "no epoch finished, so nothing was saved")
        raise TrainingError(
            f"The training loss became NaN or infinite in epoch {epoch + 1}"
            + (f" at batch {batch + 1}" if batch is not None else "") + f"; training stopped and {kept}. "
            "Lower training.learning_rate (or add warm-up) and start a new run from the last good weights with "
            f"--init-from {run_dir}")


def _result(run_dir, config, classes):
    from keras_cxr.models import load_model

    monitor = config["training"]["monitor"]
    final = read_state(run_dir)
    if not final or final.get("best_value") is None or not (run_dir / BEST_MODEL).is_file():
        raise TrainingError(f"No epoch produced a finite {monitor}, so {run_dir} has no best model.keras; "
                            f"see {run_dir / 'history.csv'} and choose another training.monitor")
    kept = "Best" if config["training"]["keep"] == "best" else "Last epoch's"
    get_logger().info("%s %s = %.4f at epoch %d; model: %s", kept, monitor, final["best_value"],
                      final["best_epoch"] + 1, run_dir / BEST_MODEL)
    return TrainResult(run_dir, load_model(run_dir / BEST_MODEL), final["history"], final["best_epoch"],
                       final["best_value"], classes)


__all__ = ["RunDirectoryError", "STATE_FILE", "TrainResult", "TrainingError", "train"]
