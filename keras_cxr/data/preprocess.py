"""Offline preprocessing: denoise / equalise / resize a dataset once, on all cores.

Decoding a full-size X-ray costs far more than a training step needs; writing
the preprocessed images once (small 8-bit PNGs) makes every later epoch cheap.
The output keeps the folder structure, resumes where it stopped (finished files
are skipped) and lists unreadable files instead of stopping.

The output folder records the settings that made it (``preprocess.json``). A
run resumes only with the same source and settings; with other settings (a new
``--size``, ``--clahe``, ``--denoise``...) it refuses, naming the differences,
rather than leave a folder of images made two ways: write to a new folder, or
pass ``overwrite=True`` (``--overwrite``) to reprocess every file. Each output
is written under a temporary name and renamed into place, so a killed run
never leaves a half-written image at an output path.
"""

import csv
import dataclasses
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from keras_cxr.data import transforms
from keras_cxr.data.decode import ImageDecodeError, images_below, read_image
from keras_cxr.data.manifest import Manifest, read_manifest
from keras_cxr.utils.logging import get_logger
from keras_cxr.utils.outputs import atomic_path

SETTINGS_FILE = "preprocess.json"
ERRORS_FILE = "preprocess_errors.csv"
# Part of the recorded settings: bump when the transforms change what the same options produce.
PREPROCESS_FORMAT = 1
_PARTIAL = ".partial"


@dataclasses.dataclass(frozen=True)
class PreprocessOptions:
    denoise: str = None  # None or "tv"
    anscombe: bool = False
    tv_weight: float = 0.05
    clahe: bool = False
    size: int = None

    def __post_init__(self):
        if self.denoise not in (None, "tv"):
            raise ValueError(f"denoise must be None or 'tv', got {self.denoise!r}")
        if self.anscombe and self.denoise is None:
            raise ValueError("--anscombe only applies with --denoise tv")
        if self.size is not None and self.size < 8:
            raise ValueError(f"--size must be at least 8, got {self.size}")


def preprocess_image(image, options):
    """Apply ``options`` to one float image: denoise, then CLAHE, then resize."""
    if options.denoise == "tv":
        image = transforms.tv_denoise(image, options.tv_weight, anscombe_transform=options.anscombe)
    if options.clahe:
        image = transforms.clahe(image)
    if options.size:
        image = transforms.resize(image, options.size)
    return image


def _process_one(job):
    src, dst, options = job
    from PIL import Image

    try:
        image = preprocess_image(read_image(src), options)
    except ImageDecodeError as error:
        return src, error.reason
    _save_atomically(Image.fromarray(transforms.to_uint8(image)), dst)
    return src, None


def _save_atomically(image, dst):
    """Save a PNG under a hidden temporary name beside ``dst``, then rename it into place.

    The temporary name is no image name (``.NAME.png.PID.partial``), so a run killed mid-write leaves
    nothing that a folder layout or a resumed run would take for a finished image.
    """
    with atomic_path(dst, suffix=_PARTIAL) as tmp:
        image.save(tmp, format="PNG")


def _remove_partial_files(dst):
    """Delete what killed runs left under temporary names; returns how many."""
    leftovers = [p for p in Path(dst).rglob(f".*{_PARTIAL}") if p.is_file()] if Path(dst).is_dir() else []
    for path in leftovers:
        path.unlink()
    return len(leftovers)


def _jobs(src, dst, options):
    src, dst = Path(src), Path(dst)
    for path in images_below(src):
        # Lesion masks are labels, not images to denoise; dst may sit inside src.
        if dst in path.parents or "masks" in path.relative_to(src).parts:
            continue
        target = (dst / path.relative_to(src)).with_suffix(".png")
        yield str(path), str(target), options


def settings_record(src, options):
    """What made an output folder: the source folder, the options and the transforms' version."""
    return {"format": PREPROCESS_FORMAT, "source": str(Path(src).resolve()), "options": dataclasses.asdict(options)}


def _settings_differences(recorded, wanted):
    """``["size: 64 -> 32", ...]`` between two :func:`settings_record` dicts."""
    old = {"source": recorded.get("source"), "format": recorded.get("format"), **recorded.get("options", {})}
    new = {"source": wanted["source"], "format": wanted["format"], **wanted["options"]}
    return [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in new if old.get(key) != new.get(key)]


def _check_settings(src, dst, options, overwrite):
    """Refuse to resume ``dst`` with other settings (or unknown ones) unless ``overwrite``; returns the record.

    Resuming skips finished files, which is right only if they were made the same way: otherwise the
    folder would silently hold images made with two sizes or filters.
    """
    wanted = settings_record(src, options)
    settings_path = dst / SETTINGS_FILE
    if overwrite or not dst.is_dir():
        return wanted
    if settings_path.is_file():
        differences = _settings_differences(json.loads(settings_path.read_text()), wanted)
        if differences:
            raise ValueError(
                f"{dst} was preprocessed with other settings ({'; '.join(differences)}; recorded in "
                f"{settings_path}). Resuming would mix images made two ways: write to a new folder, or pass "
                "--overwrite (overwrite=True) to reprocess every file with the new settings.")
    elif next(dst.rglob("*.png"), None) is not None:
        raise ValueError(
            f"{dst} already holds PNG files but no {SETTINGS_FILE} saying how they were made, so they cannot be "
            "resumed safely: write to a new folder, or pass --overwrite (overwrite=True) to reprocess every file.")
    return wanted


def _write_settings(dst, record):
    """Record the settings before any image is written, so even an interrupted folder says how it was made."""
    with atomic_path(dst / SETTINGS_FILE, suffix=_PARTIAL) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")


def preprocess_folder(src, dst, options=PreprocessOptions(), workers=None, progress=True, overwrite=False):
    """Preprocess every image below ``src`` into ``dst``; returns a summary dict.

    Files already in ``dst`` (same relative path, ``.png``) and newer than their source are skipped,
    so an interrupted run resumes, but only when ``dst/preprocess.json`` records the same source and
    options: other settings raise ``ValueError`` naming the differences, unless ``overwrite``, which
    reprocesses every file. Unreadable files are listed in ``dst/preprocess_errors.csv``.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"Source folder not found: {src}")
    record = _check_settings(src, dst, options, overwrite)
    _write_settings(dst, record)
    removed = _remove_partial_files(dst)
    if removed:
        get_logger().info("%s: removed %d partial file(s) an interrupted run left behind", dst, removed)
    todo, skipped = [], 0
    for job in _jobs(src, dst, options):
        target = Path(job[1])
        if not overwrite and target.is_file() and target.stat().st_mtime >= Path(job[0]).stat().st_mtime:
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        todo.append(job)
    errors = _run_jobs(todo, workers, progress)
    _write_errors(dst, errors)
    if (src / "manifest.csv").is_file():
        _write_preprocessed_manifest(src, dst)
    return {"processed": len(todo) - len(errors), "skipped": skipped, "errors": errors}


def _run_jobs(todo, workers, progress):
    """Process ``todo`` on ``workers`` processes; returns ``[(source path, reason)]`` of unreadable files."""
    errors = []
    workers = workers or os.cpu_count() or 1
    iterator = map(_process_one, todo) if workers == 1 else None
    with _executor(workers) as pool:
        results = iterator if pool is None else pool.map(_process_one, todo, chunksize=8)
        if progress:
            from tqdm import tqdm

            results = tqdm(results, total=len(todo), desc="preprocess", unit="img")
        for src_path, error in results:
            if error:
                errors.append((src_path, error))
    return errors


def _write_errors(dst, errors):
    """``preprocess_errors.csv`` for this run's unreadable files; an earlier run's list is removed."""
    path = dst / ERRORS_FILE
    if not errors:
        path.unlink(missing_ok=True)
        return
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "error"])
        writer.writerows(errors)


def _write_preprocessed_manifest(src, dst):
    """``src/manifest.csv`` rewritten to point at the preprocessed files in ``dst``."""
    manifest = read_manifest(src / "manifest.csv")
    src_resolved = src.resolve()
    rows = []
    for record in manifest.records:
        row = dict(record)
        for column, value in record.items():
            if column == "path" or (column.endswith("_path") and value):
                row[column] = str(manifest.resolve(value).resolve())
        source = Path(row["path"])
        if src_resolved in source.parents:
            row["path"] = str((dst.resolve() / source.relative_to(src_resolved)).with_suffix(".png"))
        rows.append(row)
    Manifest(rows, manifest.classes, dst, manifest.meta).write(dst / "manifest.csv")


class _NoPool:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _executor(workers):
    return _NoPool() if workers == 1 else ProcessPoolExecutor(max_workers=workers)
