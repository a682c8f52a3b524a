"""Scan image files once: readable or not (and why), size, bit depth, content and perceptual hash.

The training pipeline refuses to start on a manifest holding a bad file, and
``keras-cxr data check`` reports on a dataset; both use :func:`scan_files`.
Every file is fully decoded (a truncated JPEG passes a header check but fails
mid-epoch), on all cores, and the result is cached by path, size and
modification time so the next run pays only for new or changed files.
"""

import dataclasses
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from keras_cxr.data.decode import ImageDecodeError, bit_depth, is_dicom, read_image
from keras_cxr.data.duplicates import fingerprint
from keras_cxr.utils.outputs import write_text_atomic

CACHE_VERSION = 2  # 2: FileInfo.fingerprint


@dataclasses.dataclass
class FileInfo:
    path: str
    ok: bool
    reason: str = ""
    height: int = 0
    width: int = 0
    bit_depth: int = 0
    format: str = ""
    mode: str = ""
    sha1: str = ""
    fingerprint: str = ""  # perceptual hashes of the decoded image (keras_cxr.data.duplicates)


def _format_and_mode(path):
    if is_dicom(path):
        return "DICOM", "DICOM"
    from PIL import Image

    with Image.open(path) as image:
        return (image.format or "").upper(), image.mode


def inspect_file(path):
    """Decode ``path`` fully and describe it; never raises for a bad image."""
    path = str(path)
    try:
        image = read_image(path)
        fmt, mode = _format_and_mode(path)
        depth = bit_depth(path)
    except ImageDecodeError as error:
        return FileInfo(path, False, error.reason)
    except Exception as error:  # any decoder failure is a bad file, reported with its cause
        return FileInfo(path, False, f"unreadable ({type(error).__name__}: {error})")
    with open(path, "rb") as handle:
        digest = hashlib.sha1(handle.read()).hexdigest()
    return FileInfo(path, True, "", int(image.shape[0]), int(image.shape[1]), depth, fmt, mode, digest,
                    fingerprint(image))


def default_cache_path():
    root = os.environ.get("KERAS_CXR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "keras_cxr")
    return Path(root) / "file_scan.json"


def _stamp(path):
    try:
        stat = os.stat(path)
        return [stat.st_size, stat.st_mtime_ns]
    except OSError:
        return None


def _load_cache(path):
    try:
        data = json.loads(Path(path).read_text())
        return data["files"] if data.get("version") == CACHE_VERSION else {}
    except (OSError, ValueError, KeyError):
        return {}


def _save_cache(path, files):
    try:
        write_text_atomic(path, json.dumps({"version": CACHE_VERSION, "files": files}))
    except OSError:
        pass  # a read-only home only costs a re-scan next time


def scan_files(paths, workers=None, cache_path="default", progress=False):
    """``{path: FileInfo}`` for every path (absolute strings), decoding in parallel."""
    paths = [str(p) for p in paths]
    cache_file = default_cache_path() if cache_path == "default" else cache_path
    cache = _load_cache(cache_file) if cache_file else {}
    results, todo = {}, []
    for path in dict.fromkeys(paths):
        stamp = _stamp(path)
        entry = cache.get(path)
        if stamp is not None and entry and entry["stamp"] == stamp:
            results[path] = FileInfo(**entry["info"])
        else:
            todo.append(path)
    if todo:
        with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            iterator = pool.map(inspect_file, todo)
            if progress:
                from tqdm import tqdm

                iterator = tqdm(iterator, total=len(todo), desc="checking files", unit="file")
            for info in iterator:
                results[info.path] = info
                stamp = _stamp(info.path)
                if stamp is not None:
                    cache[info.path] = {"stamp": stamp, "info": dataclasses.asdict(info)}
        if cache_file:
            _save_cache(cache_file, cache)
    return results


class BadFilesError(ValueError):
    """Raised before training when a manifest names files that cannot be decoded.

    The message lists the files itself (the first 50), so nothing has to be written to disk to say which;
    ``report_path`` names the CSV holding all of them, when the caller asked for one.
    """

    def __init__(self, bad, report_path=None):
        self.bad = bad
        self.report_path = report_path
        listing = "\n".join(f"  {info.path}: {info.reason}" for info in bad[:50])
        more = f"\n  ... and {len(bad) - 50} more" if len(bad) > 50 else ""
        report = f"\nAll of them are listed in {report_path}." if report_path else ""
        super().__init__(
            f"{len(bad)} file(s) cannot be read:\n{listing}{more}{report}\n"
            "Fix or remove them, or leave them out with a report: --skip-bad (train: data.skip_bad=true; "
            "Python: skip_bad=True)."
        )


def write_bad_file_report(bad, path):
    """CSV of bad files and reasons."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "reason"])
        writer.writerows((info.path, info.reason) for info in bad)
    return path
