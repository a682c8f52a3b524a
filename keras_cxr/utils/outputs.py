"""Output directories and files that never destroy what keras_cxr did not write.

Every directory keras_cxr creates for its outputs (a run, a SavedModel, ...)
holds a marker file, :data:`MARKER`. Replacing or deleting a directory is
allowed only when it carries that marker, and never for the current
directory, one of its parents or the home folder: ``--out .`` with
``--overwrite`` is an error, not a wiped project. Files are written to a
temporary name beside the destination and renamed into place, so a process
killed at any moment leaves the old file or the new one, never half of one.
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

MARKER = ".keras_cxr_output"


class OutputDirectoryError(ValueError):
    """A directory keras_cxr was asked to replace, but did not write (or must never delete)."""


def mark_output_dir(path, kind):
    """Create ``path`` (and parents) and record that keras_cxr owns it; returns the Path."""
    from keras_cxr import __version__

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / MARKER
    if not marker.is_file():
        write_text_atomic(marker, json.dumps({"kind": kind, "keras_cxr": __version__}) + "\n")
    return path


def is_marked(path):
    return (Path(path) / MARKER).is_file()


def _protected(path):
    """The current directory, its parents, the home folder and the filesystem root."""
    resolved = Path(path).resolve()
    cwd = Path.cwd().resolve()
    return resolved == Path.home().resolve() or resolved == cwd or resolved in cwd.parents


def check_removable(path, what="directory"):
    """Raise unless ``path`` is a directory keras_cxr wrote and may delete."""
    path = Path(path)
    if _protected(path):
        raise OutputDirectoryError(
            f"Refusing to delete {path}: it is the current directory, one of its parents or the home folder. "
            "Choose an output path of its own")
    if not path.is_dir():
        raise OutputDirectoryError(f"Refusing to replace {path}: it is a file, not a {what} keras_cxr wrote")
    if not is_marked(path):
        raise OutputDirectoryError(
            f"Refusing to delete {path}: keras_cxr did not create it (no {MARKER} file inside). "
            f"Delete it yourself if it is really unwanted, or choose another output path")


def remove_output_dir(path, what="directory"):
    """Delete a directory keras_cxr wrote (see :func:`check_removable`)."""
    check_removable(path, what)
    shutil.rmtree(path)


@contextlib.contextmanager
def replacing_dir(path, kind):
    """Build a directory under a temporary name, then swap it in for ``path``.

    Yields the temporary directory. On success an existing ``path`` (which must
    be a marked keras_cxr output) is replaced; on error the temporary directory
    is removed and ``path`` is untouched.
    """
    path = Path(path)
    if path.exists():
        check_removable(path, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        mark_output_dir(tmp, kind)
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _umask():
    """The process umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=".tmp"):
    """Yield a hidden temporary path beside ``path`` (``.NAME.PID<suffix>``); rename it onto ``path`` on success.

    For writers that want a file name rather than bytes (``model.save``, ``Image.save``, ``csv``): a
    process killed mid-write leaves the old file or the new one, never half of one, and the temporary
    file is removed when the block raises. ``suffix`` keeps an extension a writer insists on (``.keras``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path, data):
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename it into place.

    The file gets the permissions a plain ``open(path, "w")`` would (0666 less the umask), not the
    owner-only 0600 of temporary files: reports and model cards are meant to be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path, text):
    return write_bytes_atomic(path, text.encode("utf-8"))


__all__ = ["MARKER", "OutputDirectoryError", "atomic_path", "check_removable", "is_marked", "mark_output_dir",
           "remove_output_dir", "replacing_dir", "write_bytes_atomic", "write_text_atomic"]
