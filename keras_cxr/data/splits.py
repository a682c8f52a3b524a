"""Patient-grouped, class-stratified, reproducible splits.

No patient may appear in two splits (follow-up films of one patient in train
and test inflate accuracy; PAPERS.md notes the papers' image-level splits leak).
Patients are grouped, each takes the label of most of its images, and within
each class the shuffled patients fill test, then validation, then train, up to
the requested fractions of that class's images.
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

    images_by_patient = defaultdict(list)
    for index, record in enumerate(manifest.records):
        images_by_patient[record["patient_id"]].append(index)
    patients_by_class = defaultdict(list)
    for patient, indices in images_by_patient.items():
        votes = Counter(manifest.records[i]["label"] for i in indices)
        label = max(manifest.classes, key=lambda c: (votes.get(c, 0), -manifest.classes.index(c)))
        patients_by_class[label].append(patient)

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


def patient_leaks(manifest):
    """Patients found in more than one split: ``{patient_id: sorted splits}``."""
    splits = defaultdict(set)
    for record in manifest.records:
        splits[record["patient_id"]].add(record.get("split", ""))
    return {p: sorted(s) for p, s in splits.items() if len(s) > 1}
