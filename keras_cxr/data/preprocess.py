"""Offline preprocessing: denoise / equalise / resize a dataset once, on all cores.

Decoding a full-size X-ray costs far more than a training step needs; writing
the preprocessed images once (small 8-bit PNGs) makes every later epoch cheap.
The output keeps the folder structure, resumes where it stopped (finished files
are skipped) and lists unreadable files instead of stopping.
"""

import csv
import dataclasses
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from keras_cxr.data import transforms
from keras_cxr.data.decode import ImageDecodeError, is_image_file, read_image
from keras_cxr.data.manifest import Manifest, read_manifest


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
    tmp = dst + ".tmp.png"
    Image.fromarray(transforms.to_uint8(image)).save(tmp)
    os.replace(tmp, dst)  # atomic: an interrupted run never leaves half a file
    return src, None


def _jobs(src, dst, options):
    src, dst = Path(src), Path(dst)
    for path in sorted(p for p in src.rglob("*") if p.is_file() and is_image_file(p)):
        # Lesion masks are labels, not images to denoise; dst may sit inside src.
        if dst in path.parents or "masks" in path.relative_to(src).parts:
            continue
        target = (dst / path.relative_to(src)).with_suffix(".png")
        yield str(path), str(target), options


def preprocess_folder(src, dst, options=PreprocessOptions(), workers=None, progress=True):
    """Preprocess every image below ``src`` into ``dst``; returns a summary dict.

    Files already in ``dst`` (same relative path, ``.png``) and newer than their
    source are skipped, so an interrupted run resumes. Unreadable files are
    listed in ``dst/preprocess_errors.csv``.
    """
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"Source folder not found: {src}")
    todo, skipped = [], 0
    for job in _jobs(src, dst, options):
        target = Path(job[1])
        if target.is_file() and target.stat().st_mtime >= Path(job[0]).stat().st_mtime:
            skipped += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        todo.append(job)
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
    if errors:
        with open(dst / "preprocess_errors.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "error"])
            writer.writerows(errors)
    if (src / "manifest.csv").is_file():
        _write_preprocessed_manifest(src, dst)
    return {"processed": len(todo) - len(errors), "skipped": skipped, "errors": errors}


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
