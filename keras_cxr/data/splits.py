"""Patient-grouped, class-stratified, reproducible splits.

No patient may appear in two splits (follow-up films of one patient in train
and test inflate accuracy; PAPERS.md notes the papers' image-level splits leak).
Patients are grouped, each takes the label of most of its images, and within
each class the shuffled patients fill test, then validation, then train, up to
the requested fractions of that class's images.

Published splits are kept: :func:`carve_validation` takes validation patients
from the train rows only (Zhong 2020's COVID-19-CXR has train/test and no
validation; Kermany's validation folder holds 16 images), and
:func:`subsample_train` keeps a share of the train patients (Covid-DenseNet
varies the training-set size). Neither touches a test row.
"""

import random
from collections import Counter, defaultdict

from keras_cxr.data.manifest import Manifest


def split_manifest(manifest, val=0.2, test=0.0, seed=0):
    """A copy of ``manifest`` with a ``split`` column (train/val/test)."""
    for name, fraction in (("val", val), ("test", test)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"--{name} must be in [0, 1), got {fraction}")
    if val + test >= 1.0:
        raise ValueError(f"val + test must leave images for training, got {val} + {test}")
    if not manifest.records:
        raise ValueError("Cannot split an empty manifest")

    images_by_patient, patients_by_class = _patients(manifest.records, manifest.classes)
    rng = random.Random(seed)
    assignment = {}
    for label in manifest.classes:
        patients = sorted(patients_by_class.get(label, []))
        rng.shuffle(patients)
        total = sum(len(images_by_patient[p]) for p in patients)
        targets = (("test", test * total), ("val", val * total))
        filled = {"test": 0, "val": 0}
        for patient in patients:
            size = len(images_by_patient[patient])
            split = "train"
            for name, target in targets:
                # Take the patient if it brings this split nearer its target.
                if target > 0 and abs(filled[name] + size - target) < abs(filled[name] - target):
                    split = name
                    filled[name] += size
                    break
            assignment[patient] = split
    records = [dict(r, split=assignment[r["patient_id"]]) for r in manifest.records]
    meta = dict(manifest.meta, split={"val": val, "test": test, "seed": seed})
    return Manifest(records, manifest.classes, manifest.root, meta)


def _patients(records, classes):
    """``({patient: [row indices]}, {class: [patients]})``; a patient's class is that of most of its rows."""
    images_by_patient = defaultdict(list)
    for index, record in enumerate(records):
        images_by_patient[record["patient_id"]].append(index)
    patients_by_class = defaultdict(list)
    for patient, indices in images_by_patient.items():
        votes = Counter(records[i]["label"] for i in indices)
        label = max(classes, key=lambda c: (votes.get(c, 0), -classes.index(c)))
        patients_by_class[label].append(patient)
    return images_by_patient, patients_by_class


def _require_splits(manifest, what):
    if not manifest.has_splits():
        raise ValueError(f"{what} needs a manifest with a split column on every row (train/val/test); "
                         "this one has none: split it with `keras-cxr data split` or split_manifest")
    if not any(r["split"] == "train" for r in manifest.records):
        raise ValueError(f"{what}: the manifest has no train rows")


def carve_validation(manifest, val_fraction, seed):
    """A new manifest whose ``val`` split gains ``val_fraction`` of the train images, by patient, per class.

    For a published split without validation images (Zhong 2020's COVID-19-CXR: train/test). Only train
    rows move; test rows (and any val rows) are kept as they are. The train rows are split as
    :func:`split_manifest` splits a manifest: patients grouped, stratified by class, reproducible for a
    ``seed``. A train patient who also has test rows (a leak of the published split) is never moved, so
    validation takes no test patient. ``meta["carved_validation"]`` records the fraction, the seed and the
    images moved.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    _require_splits(manifest, "carve_validation")
    test_patients = {r["patient_id"] for r in manifest.records if r["split"] == "test"}
    movable = [r for r in manifest.records if r["split"] == "train" and r["patient_id"] not in test_patients]
    assignment = {}
    if movable and val_fraction > 0:
        carved = split_manifest(Manifest(movable, manifest.classes, manifest.root), val=val_fraction, test=0.0,
                                seed=seed)
        assignment = {r["patient_id"]: r["split"] for r in carved.records}
    records, moved = [], 0
    for record in manifest.records:
        if record["split"] == "train" and assignment.get(record["patient_id"]) == "val":
            record = dict(record, split="val")
            moved += 1
        else:
            record = dict(record)
        records.append(record)
    stayed = sorted(test_patients & {r["patient_id"] for r in manifest.records if r["split"] == "train"})
    info = {"val_fraction": val_fraction, "seed": seed, "moved": moved}
    if stayed:
        info["train_patients_also_in_test"] = len(stayed)
    return Manifest(records, manifest.classes, manifest.root, dict(manifest.meta, carved_validation=info))


def subsample_train(manifest, fraction, seed):
    """A new manifest keeping ``fraction`` of the train images, by patient, per class; other rows untouched.

    Covid-DenseNet varies the training-set size. Within each class (a patient's class is that of most of
    its images) the shuffled train patients are kept in order until the class's share is reached, so
    every class keeps at least one patient, and for one ``seed`` a smaller fraction keeps a subset of the
    patients a larger one keeps (learning curves compare nested training sets). Val and test rows are
    kept as they are. The dropped train rows are left out of the returned manifest and reported in
    ``meta["train_fraction"]``: ``{"fraction", "seed", "kept", "dropped", "kept_per_class"}``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    _require_splits(manifest, "subsample_train")
    train = [r for r in manifest.records if r["split"] == "train"]
    images_by_patient, patients_by_class = _patients(train, manifest.classes)
    rng = random.Random(seed)
    kept_patients = set()
    for label in manifest.classes:
        patients = sorted(patients_by_class.get(label, []))
        rng.shuffle(patients)
        target = fraction * sum(len(images_by_patient[p]) for p in patients)
        filled = 0
        for patient in patients:
            size = len(images_by_patient[patient])
            # Keep the first patient always, then each next one while it brings the class nearer its share.
            if filled and abs(filled + size - target) >= abs(filled - target):
                break
            kept_patients.add(patient)
            filled += size
    records = [dict(r) for r in manifest.records if r["split"] != "train" or r["patient_id"] in kept_patients]
    kept = sum(1 for r in records if r["split"] == "train")
    per_class = Counter(r["label"] for r in records if r["split"] == "train")
    info = {"fraction": fraction, "seed": seed, "kept": kept, "dropped": len(train) - kept,
            "kept_per_class": {c: per_class.get(c, 0) for c in manifest.classes}}
    return Manifest(records, manifest.classes, manifest.root, dict(manifest.meta, train_fraction=info))


def patient_folds(manifest, k, seed=0):
    """The fold (0..k-1) of every row: k patient-grouped folds, balanced per class, for cross-validation.

    Every patient's images share one fold, so a fold held out as the test set shares no patient with
    the folds it was trained on. Within each class (a patient's class is that of most of its images)
    the shuffled patients, largest first, go one by one to the fold holding fewest images of that class
    (then fewest in all), so the folds are near-equal in size and class mix and none is empty.
    Reproducible for a ``seed``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2 folds, got {k!r}")
    if not manifest.records:
        raise ValueError("Cannot fold an empty manifest")
    images_by_patient, patients_by_class = _patients(manifest.records, manifest.classes)
    if k > len(images_by_patient):
        raise ValueError(f"{k} folds need at least {k} patients; the data has {len(images_by_patient)} "
                         "(a fold is a group of whole patients)")
    rng = random.Random(seed)
    per_class = [Counter() for _ in range(k)]
    sizes = [0] * k
    fold_of = {}
    for label in manifest.classes:
        patients = sorted(patients_by_class.get(label, []))
        rng.shuffle(patients)
        for patient in sorted(patients, key=lambda p: -len(images_by_patient[p])):  # stable: ties keep the shuffle
            fold = min(range(k), key=lambda f: (per_class[f][label], sizes[f], f))
            fold_of[patient] = fold
            per_class[fold][label] += len(images_by_patient[patient])
            sizes[fold] += len(images_by_patient[patient])
    return [fold_of[r["patient_id"]] for r in manifest.records]


def patient_leaks(manifest):
    """Patients found in more than one split: ``{patient_id: sorted splits}``."""
    splits = defaultdict(set)
    for record in manifest.records:
        splits[record["patient_id"]].add(record.get("split", ""))
    return {p: sorted(s) for p, s in splits.items() if len(s) > 1}
