"""Which images an evaluation may score: never, silently, an image the model was trained on.

A run directory keeps its patient-level split (``split.csv``). Evaluating on
the run's own data without a split column uses that split; other data without
a split column needs an explicit ``all_images=True`` (an external test set);
and whenever the run's split is known, any evaluation image whose patient id
or file content (SHA-1) is in the run's training split is reported and, by
default, refused (the leakage PAPERS.md finds in the papers' image-level
splits, and the failure Roberts et al. 2021 found in most COVID-19 models).
"""

from pathlib import Path

from keras_cxr.data.manifest import Manifest
from keras_cxr.data.sources import load_any

SPLIT_FILE = "split.csv"
SHOWN = 10


class LeakageError(ValueError):
    """Evaluation images that the model saw in training (same patient or identical file)."""

    def __init__(self, leakage):
        self.leakage = leakage
        lines = [f"  patient {p}: {path}" for p, path in leakage["shared_patients"][:SHOWN]]
        lines += [f"  identical file: {a} == training {b}" for a, b in leakage["identical_files"][:SHOWN]]
        super().__init__(
            f"{leakage['images_overlapping']} of {leakage['images']} evaluation image(s) overlap the run's training "
            f"split ({len(leakage['shared_patients'])} by patient id, {len(leakage['identical_files'])} identical "
            "files):\n" + "\n".join(lines) + "\nScore held-out patients only (e.g. --split test of the run's own "
            "split.csv), or pass --allow-overlap to evaluate anyway with the overlap reported."
        )


def run_split(model_path):
    """The patient-level split saved with a run (``split.csv`` beside ``model.keras``), or None."""
    path = Path(model_path)
    path = path / SPLIT_FILE if path.is_dir() else path.parent / SPLIT_FILE
    return load_any(path) if path.is_file() else None


def _paths(manifest):
    return [str(manifest.resolve(r).resolve()) for r in manifest.records]


def select_images(data, split, trained_on=None):
    """(manifest to score, how it was chosen). ``split=None`` scores every image, on request.

    ``trained_on``: the run's split manifest, used when ``data`` has no split column of its own.
    """
    manifest = load_any(data)
    if split is None:
        return manifest, "every image (requested)"
    if manifest.has_splits():
        return manifest.subset(split), f"split {split!r} of the data's split column"
    if trained_on is not None and trained_on.has_splits():
        assignment = dict(zip(_paths(trained_on), (r["split"] for r in trained_on.records)))
        paths = _paths(manifest)
        if paths and all(p in assignment for p in paths):
            rows = [dict(r, split=assignment[p]) for r, p in zip(manifest.records, paths)]
            chosen = Manifest(rows, manifest.classes, manifest.root, dict(manifest.meta)).subset(split)
            if not chosen.records:
                raise ValueError(f"The run's own split holds no {split!r} images of {data} (its test fraction may "
                                 "be 0): evaluate --split val, or score another data set with --all-images")
            return chosen, f"split {split!r} of the run's own split.csv (the data has no split column)"
    raise ValueError(
        f"{data} has no split column and is not this run's training data, so which images are held out is "
        "unknown. Split it by patient (keras-cxr data split), or pass --all-images to score every image "
        "(an external test set)."
    )


def training_overlap(manifest, trained_on, file_infos=None, split="train"):
    """Patients and identical files of ``manifest`` that are in ``trained_on``'s ``split`` (train by default).

    ``file_infos``: ``{path: FileInfo}`` from :func:`~keras_cxr.data.integrity.scan_files` (content hashes),
    scanned here when not given.
    """
    from keras_cxr.data.integrity import scan_files

    train = trained_on.subset(split) if trained_on.has_splits() else trained_on
    train_paths, eval_paths = _paths(train), _paths(manifest)
    infos = dict(file_infos or {})
    missing = [p for p in train_paths + eval_paths if p not in infos]
    if missing:
        infos.update(scan_files(missing))
    train_patients = {r["patient_id"] for r in train.records}
    train_hashes = {infos[p].sha1: p for p in train_paths if infos[p].ok}
    shared_patients, identical, overlapping = [], [], set()
    for record, path in zip(manifest.records, eval_paths):
        if record["patient_id"] in train_patients:
            shared_patients.append((record["patient_id"], path))
            overlapping.add(path)
        digest = infos[path].sha1 if infos[path].ok else None
        if digest in train_hashes:
            identical.append((path, train_hashes[digest]))
            overlapping.add(path)
    return {"checked": True, "training_images": len(train_paths), "images": len(eval_paths),
            "images_overlapping": len(overlapping), "shared_patients": shared_patients,
            "identical_files": identical}


def check_training_overlap(manifest, trained_on, allow_overlap, model_path):
    """The overlap report for ``metrics.json``; raises :class:`LeakageError` on overlap unless allowed."""
    if trained_on is None:
        return {"checked": False, "reason": f"no split.csv beside {model_path}, so the training images are unknown"}
    overlap = training_overlap(manifest, trained_on)
    if overlap["images_overlapping"] and not allow_overlap:
        raise LeakageError(overlap)
    return overlap
