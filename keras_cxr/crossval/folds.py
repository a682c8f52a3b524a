"""Which images each cross-validation fold trains, validates and tests on (plain Python, no TensorFlow).

A fold holds one group out entirely as its test set: one value of a manifest
column (``by="source"``: leave-one-source-out), or one of ``k`` patient-grouped
folds (:func:`keras_cxr.data.splits.patient_folds`). The rest is split by
patient into train and validation (:func:`~keras_cxr.data.splits.split_manifest`
with ``val_fraction``), so the held-out group is never seen, not even for
choosing the best epoch. The data's own ``split`` column is not used (kept as
``data_split``): the held-out group is the test set, and every other image may
train or validate.

Nothing is dropped silently: rows a fold cannot use are listed in ``Fold.left_out``
with the reason, and in ``Fold.notes``. That happens when a patient of the
held-out group also has images in another group (those images would leak the
patient into training, so they are left out of that fold's training), and when
a class has no training images in a fold (as when one source supplied every
image of a class): that fold's model does not know the class, so its held-out
images of that class are not scored.
"""

import dataclasses
import re
from collections import Counter

from keras_cxr.data.manifest import Manifest
from keras_cxr.data.splits import patient_folds, split_manifest

PATIENT_IN_HELD_OUT = "patient also in the held-out group"
CLASS_NOT_TRAINED = "class absent from training in this fold"


@dataclasses.dataclass
class Fold:
    """One fold: ``manifest`` has a ``split`` column (train/val/test) and only the classes it trains on."""

    name: str
    held_out: str
    manifest: Manifest
    held_out_counts: dict  # {class: images} of the whole held-out group, scored or not
    left_out: list = dataclasses.field(default_factory=list)  # [(row, reason)]
    notes: list = dataclasses.field(default_factory=list)


def plan_folds(manifest, by=None, folds=None, val_fraction=0.2, seed=0):
    """The folds of leave-one-group-out by column ``by``, or of ``folds`` patient-grouped folds."""
    if (by is None) == (folds is None):
        raise ValueError("Cross-validate either by a column (--by COLUMN) or by k patient folds (--folds K), "
                         "not both and not neither")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"data.val_fraction must be in (0, 1) for cross-validation (each fold needs validation "
                         f"images to choose its epoch), got {val_fraction}")
    groups = column_groups(manifest, by) if by is not None else _fold_groups(manifest, folds, seed)
    names = fold_names(list(groups))
    return [_fold(manifest, names[value], value, rows, val_fraction, seed) for value, rows in groups.items()]


def column_groups(manifest, column):
    """``{value: [row indices]}`` of a manifest column, values sorted."""
    if column not in manifest.columns:
        raise ValueError(f"The data has no column {column!r}; its columns are {manifest.columns}")
    blank = [r["path"] for r in manifest.records if not r.get(column)]
    if blank:
        raise ValueError(f"{len(blank)} row(s) have no {column!r} value (first: {blank[0]}); every image needs one "
                         "to be held out with its group")
    groups = {}
    for index, record in enumerate(manifest.records):
        groups.setdefault(record[column], []).append(index)
    groups = dict(sorted(groups.items()))
    if len(groups) < 2:
        raise ValueError(f"Column {column!r} has a single value ({next(iter(groups), '')!r}): nothing to hold out "
                         "against; cross-validate by another column, or by patient folds (--folds K)")
    return groups


def _fold_groups(manifest, k, seed):
    groups = {}
    for index, fold in enumerate(patient_folds(manifest, k, seed)):
        groups.setdefault(fold, []).append(index)
    return {str(fold + 1): groups[fold] for fold in sorted(groups)}


def fold_names(values):
    """``{value: directory-safe name}``, distinct: ``"NIH ChestX-ray14"`` -> ``"NIH_ChestX-ray14"``."""
    names, used = {}, set()
    for value in values:
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", str(value)).strip("._") or "blank"
        name, n = base, 2
        while name.lower() in used:  # case-insensitive file systems
            name, n = f"{base}_{n}", n + 1
        used.add(name.lower())
        names[value] = name
    return names


def _fold(manifest, name, value, test_rows, val_fraction, seed):
    """The fold holding out ``test_rows``: the others split by patient into train and validation."""
    records = [_without_split(r) for r in manifest.records]
    test = [records[i] for i in test_rows]
    held_patients = {r["patient_id"] for r in test}
    chosen = set(test_rows)
    rest = [r for i, r in enumerate(records) if i not in chosen]
    left_out = [(r, PATIENT_IN_HELD_OUT) for r in rest if r["patient_id"] in held_patients]
    pool = [r for r in rest if r["patient_id"] not in held_patients]
    if not pool:
        raise ValueError(f"Holding out {value!r} leaves no image to train on")
    pool = split_manifest(Manifest(pool, manifest.classes, manifest.root), val=val_fraction, seed=seed).records
    if not any(r["split"] == "val" for r in pool):
        raise ValueError(f"Holding out {value!r}: data.val_fraction={val_fraction} of the {len(pool)} other images "
                         "is no whole patient of any class, so the fold has no validation images; raise "
                         "data.val_fraction")
    trained = [c for c in manifest.classes if any(r["split"] == "train" and r["label"] == c for r in pool)]
    if len(trained) < 2:
        raise ValueError(f"Holding out {value!r} leaves training images of {trained} only: a classifier needs two "
                         "classes")
    kept = []
    for row in pool + [dict(r, split="test") for r in test]:
        if row["label"] in trained:
            kept.append(row)
        else:
            left_out.append((row, CLASS_NOT_TRAINED))
    fold = Fold(name, value, Manifest(kept, trained, manifest.root, dict(manifest.meta)),
                _counts(test, manifest.classes), left_out)
    fold.notes = _notes(fold, manifest.classes)
    return fold


def _without_split(record):
    """A copy of the row with the data's own split, if any, kept as ``data_split``."""
    row = {k: v for k, v in record.items() if k != "split"}
    if record.get("split"):
        row["data_split"] = record["split"]
    return row


def _counts(records, classes):
    counter = Counter(r["label"] for r in records)
    return {c: counter[c] for c in classes if counter[c]}


def _notes(fold, classes):
    """One sentence per thing a reader of the table must know about this fold."""
    notes = []
    for label in classes:
        if label in fold.manifest.classes:
            continue
        held = sum(1 for r, why in fold.left_out if why == CLASS_NOT_TRAINED and r["label"] == label
                   and r["split"] == "test")
        notes.append(f"class {label} absent from training in this fold"
                     + (f": {held} held-out image(s) not scored" if held else ""))
    leaked = sum(1 for _, why in fold.left_out if why == PATIENT_IN_HELD_OUT)
    if leaked:
        notes.append(f"{leaked} image(s) left out of training: their patients are in the held-out group")
    missing = [c for c in fold.manifest.classes if not fold.held_out_counts.get(c)]
    if missing:
        notes.append(f"no held-out images of {', '.join(missing)}: macro-F1 and macro AUC cover the classes present")
    return notes
