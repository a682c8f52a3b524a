"""Atomic writes: a file is the old one or the new one, never half of one, and no temporary file stays."""

import pytest

from keras_cxr.utils.outputs import atomic_path, write_text_atomic


def test_atomic_path_renames_on_success_and_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "sub" / "history.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".history.csv.") and not target.exists()
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError), atomic_path(target, suffix=".keras") as tmp:
        assert tmp.suffix == ".keras"
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["history.csv"]


def test_written_files_get_the_umask_permissions_not_0600(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "report.md", "x")
    finally:
        os.umask(mask)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
