"""``cross_validate``: train one run per held-out group, score it on that group, tabulate every fold.

A model scored on images from the hospitals it was trained on says little about
the next hospital: COVID-19 classifiers learned their sources' markers and
exposure rather than the lungs (DeGrave et al. 2021), and Roberts et al. 2021
ask for external validation on data from elsewhere. Leaving out one source at a
time (``by="source"``) is that figure for every source at once; ``folds=k`` is
patient-grouped k-fold cross-validation when the data has a single source.

``OUT/fold_<name>/`` holds ``fold.csv`` (the fold's split; images a fold cannot use
are in ``left_out.csv`` with the reason), ``run/`` (a normal run directory) and
``evaluation/`` (``metrics.json``, ``report.md``, ...). ``OUT/crossval.json``,
``crossval.csv`` and ``crossval.md`` tabulate the folds. Running it again
continues: a finished fold is not retrained, an interrupted one resumes.
"""

import copy
import json
from pathlib import Path

from keras_cxr.crossval.folds import plan_folds
from keras_cxr.crossval.table import fold_row, summarize_folds, write_tables
from keras_cxr.data.manifest import Manifest, read_manifest
from keras_cxr.data.sources import load_any
from keras_cxr.utils.lock import LOCK_FILE, directory_lock
from keras_cxr.utils.logging import get_logger
from keras_cxr.utils.outputs import MARKER, mark_output_dir, write_text_atomic

KIND = "crossval"
PLAN_FILE = "plan.json"


def cross_validate(config, data, out_dir, *, by=None, folds=None, bootstrap_resamples=1000, allow_overlap=False,
                   verbose="auto"):
    """Cross-validate ``config`` (dict or YAML path) on ``data``, one fold per held-out group; returns the table.

    Exactly one of ``by`` (a manifest column: each value held out in turn) and ``folds`` (k patient-grouped
    folds). Each fold's train/validation split is by patient, with ``data.val_fraction`` and
    ``data.split_seed``; the held-out group is scored whole (``keras-cxr evaluate --split test``).
    """
    from keras_cxr.data.labels import align_classes
    from keras_cxr.training.config import load_config, validate

    config = load_config(config) if isinstance(config, (str, Path)) else validate(config)
    d = config["data"]
    manifest, _ = align_classes(load_any(data), d["classes"], config["training"]["class_weight"])
    plan = plan_folds(manifest, by=by, folds=folds, val_fraction=d["val_fraction"], seed=d["split_seed"])
    if d["test_fraction"]:
        get_logger().info("data.test_fraction=%s is not used: each fold's test set is its held-out group",
                          d["test_fraction"])
    out_dir = Path(out_dir)
    _check_out(out_dir)
    scheme = {"by": by, "folds": folds, "seed": d["split_seed"], "val_fraction": d["val_fraction"],
              "fold_names": sorted(f.name for f in plan)}
    with directory_lock(out_dir, "cross-validation directory"):
        mark_output_dir(out_dir, KIND)
        _check_scheme(out_dir, scheme)
        rows = []
        for number, fold in enumerate(plan, 1):
            get_logger().info("Fold %d/%d: holding out %s (%d images)", number, len(plan), _describe(by, fold),
                              sum(fold.held_out_counts.values()))
            rows.append(_run_fold(fold, config, out_dir, bootstrap_resamples, allow_overlap, verbose))
        result = {"data": str(data), "by": by, "k": folds, "seed": d["split_seed"], "val_fraction": d["val_fraction"],
                  "classes": manifest.classes, "folds": rows, "summary": summarize_folds(rows)}
        write_tables(result, out_dir)
    return result


def _describe(by, fold):
    return f"{by}={fold.held_out}" if by else f"fold {fold.held_out}"


def _check_out(out_dir):
    """OUT is new, empty, or an earlier cross-validation; anything else is refused, never overwritten."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file, not a directory")
    if not out_dir.exists() or all(p.name in (LOCK_FILE,) for p in out_dir.iterdir()):
        return
    marker = out_dir / MARKER
    kind = json.loads(marker.read_text()).get("kind") if marker.is_file() else None
    if kind != KIND:
        what = f"a keras_cxr {kind} output" if kind else "files keras_cxr did not write"
        raise ValueError(f"{out_dir} holds {what}, not a cross-validation; choose another --out")


def _check_scheme(out_dir, scheme):
    """A second run into OUT continues the first; another column, k, seed or split is refused."""
    path = out_dir / PLAN_FILE
    if path.is_file():
        saved = json.loads(path.read_text())
        changed = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in scheme.items() if saved.get(k) != v]
        if changed:
            raise ValueError(f"{out_dir} holds a cross-validation planned differently ({'; '.join(changed)}); "
                             "choose another --out to run this one")
    else:
        write_text_atomic(path, json.dumps(scheme, indent=2) + "\n")


def _run_fold(fold, config, out_dir, bootstrap_resamples, allow_overlap, verbose):
    """Train (or continue) the fold's run, score its held-out group; the fold's table row."""
    from keras_cxr.evaluation import evaluate
    from keras_cxr.training import train
    from keras_cxr.training.trainer import RunDirectoryError

    fold_dir = out_dir / f"fold_{fold.name}"
    data_csv = _write_fold(fold, fold_dir)
    for note in fold.notes:
        get_logger().warning("Fold %s: %s", fold.name, note)
    fold_config = copy.deepcopy(config)
    fold_config["data"]["classes"] = list(fold.manifest.classes)  # the fold's model knows the classes it trains on
    weight = fold_config["training"]["class_weight"]
    if isinstance(weight, dict):
        fold_config["training"]["class_weight"] = {c: w for c, w in weight.items() if c in fold.manifest.classes}
    if not fold.manifest.subset("test").records:
        get_logger().warning("Fold %s: no held-out image is of a class this fold trains on; nothing to score, so "
                             "no model is trained", fold.name)
        return fold_row(fold, None, fold_dir)
    try:
        train(fold_config, data_csv, fold_dir / "run", verbose=verbose)
    except RunDirectoryError as error:
        raise RunDirectoryError(f"{error}\nA cross-validation continues with the config it started with (only "
                                f"more epochs); to cross-validate another config, choose another --out than "
                                f"{out_dir}") from None
    metrics = evaluate(fold_dir / "run", data_csv, fold_dir / "evaluation", split="test",
                       bootstrap_resamples=bootstrap_resamples, throughput=False, allow_overlap=allow_overlap,
                       skip_bad=config["data"]["skip_bad"])
    return fold_row(fold, metrics, fold_dir)


def _write_fold(fold, fold_dir):
    """``fold_dir/fold.csv`` (and ``left_out.csv``); a fold.csv from other data or options is refused."""
    path = fold_dir / "fold.csv"
    if path.is_file() and _rows(read_manifest(path)) != _rows(fold.manifest):
        raise ValueError(f"{path} holds another split of the images (the data or the options changed since it "
                         "was made); choose another --out")
    fold_dir.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        fold.manifest.write(path)
    if fold.left_out:
        rows = [dict(row, reason=reason) for row, reason in fold.left_out]
        Manifest(rows, list(dict.fromkeys(r["label"] for r in rows)), fold.manifest.root).write(
            fold_dir / "left_out.csv")
    return path


def _rows(manifest):
    return manifest.classes, sorted((str(manifest.resolve(r).resolve()), r["label"], r["patient_id"], r["split"])
                                    for r in manifest.records)
