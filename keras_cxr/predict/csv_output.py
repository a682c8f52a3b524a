"""Predictions streamed to a CSV, a batch at a time, so a run over 100,000 images can stop and resume.

Columns: ``path``, ``prob_<class>`` for each of the model's classes (the names
``evaluate``'s ``predictions.csv`` uses), ``predicted`` and ``error`` (empty
for scored images; the reason for unreadable ones, whose other cells are
empty). Rows are appended and flushed as each batch finishes: a run that is
stopped loses at most one batch, and a re-run with the same ``out`` skips the
paths already written. An existing file is only ever appended to when its
header is exactly this model's; anything else is refused unless the caller
asks to overwrite.
"""

import csv
import sys
from pathlib import Path

from keras_cxr.predict.runner import DEFAULT_BATCH_SIZE, _conformal, collect_paths, iter_predictions, load_predictor

_TAIL_BYTES = 1 << 16  # longer than any one row


def csv_columns(classes, conformal=None):
    """The header for a model's classes; ``conformal`` (a coverage) adds ``set_<coverage>``, e.g. ``set_0.95``."""
    return ["path", *[f"prob_{c}" for c in classes], "predicted", *([f"set_{conformal:g}"] if conformal else []),
            "error"]


def _read_header(path):
    with open(path, newline="") as handle:
        return next(csv.reader(handle), None)


def _header_error(path, header, columns):
    """Why an existing file cannot be resumed, naming it and what to do."""
    is_predictions = bool(header) and header[0] == "path" and header[-1] == "error" and "predicted" in header
    if is_predictions:
        found = [c[len("prob_"):] for c in header if c.startswith("prob_")]
        expected = [c[len("prob_"):] for c in columns if c.startswith("prob_")]
        problem = (f"holds predictions for classes {found}, but the model's classes are {expected}" if found != expected
                   else f"was written with other conformal sets (columns {header[-2:]}, this run's {columns[-2:]})")
    else:
        problem = f"exists and is not a predictions CSV (its first line is {header})"
    return ValueError(f"{path} {problem}; pass --overwrite (overwrite=True) to replace it, or choose another --out")


def _drop_partial_last_row(path):
    """Cut a half-written last row (a run killed mid-write) so that image is scored again."""
    size = path.stat().st_size
    with open(path, "rb+") as handle:
        start = max(0, size - _TAIL_BYTES)
        handle.seek(start)
        tail = handle.read()
        if tail.endswith(b"\n"):
            return
        cut = start + tail.rfind(b"\n") + 1
        if cut == 0:  # the header alone, unterminated: keep it
            handle.write(b"\n")
        else:
            handle.truncate(cut)


def _written_paths(path):
    """The paths an earlier run already wrote (scored or reported unreadable)."""
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        return {row[0] for row in reader if row}


def open_output(out, columns, overwrite=False):
    """``(file, csv writer, paths already written)``: resume a matching file, refuse a different one.

    A file whose header matches ``columns`` is appended to; an empty or new file
    gets the header; with ``overwrite`` any existing file is replaced.
    """
    out = Path(out)
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give the path of a .csv file")
    done = set()
    resume = out.is_file() and out.stat().st_size > 0 and not overwrite
    if resume:
        header = _read_header(out)
        if header != columns:
            raise _header_error(out, header, columns)
        _drop_partial_last_row(out)
        done = _written_paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle = open(out, "a" if resume else "w", newline="")
    writer = csv.writer(handle, lineterminator="\n")
    if not resume:
        writer.writerow(columns)
        handle.flush()
    return handle, writer, done


def _row(record, classes, conformal=False):
    sets = [";".join(record.get("set", []))] if conformal else []
    if "error" in record:
        return [record["path"], *[""] * len(classes), "", *[""] * len(sets), record["error"]]
    return [record["path"], *[record["probabilities"][c] for c in classes], record["predicted"], *sets, ""]


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress_bar(total, enabled):
    """tqdm on stderr when it is a terminal (or when asked); nothing in logs, pipes or edge installs."""
    if not (sys.stderr.isatty() if enabled is None else enabled):
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # the edge extra ships without tqdm
        return _NoBar()
    return tqdm(total=total, desc="predicting", unit="img", file=sys.stderr)


def _check_not_an_input(out, inputs):
    """Overwriting the manifest being read would destroy the user's data."""
    if any(Path(i).resolve() == Path(out).resolve() for i in inputs):
        raise ValueError(f"--out {out} is also an input; write predictions to another file")


def predict_to_csv(model, inputs, out, batch_size=DEFAULT_BATCH_SIZE, overwrite=False, progress=None,
                   conformal=None):
    """Score every image of ``inputs`` (files, folders, manifest CSVs) into the CSV ``out``.

    ``conformal``: target coverage; adds a ``set_<coverage>`` column (classes separated by ``;``).
    Returns ``{"out", "total", "skipped", "written", "errors"}``: ``skipped``
    counts paths an earlier run already wrote to ``out`` (not scored again),
    ``written`` the rows this run added, ``errors`` the unreadable ones among them.
    """
    _check_not_an_input(out, inputs)
    predictor = load_predictor(model)
    columns = csv_columns(predictor.classes, conformal)
    _conformal(predictor, conformal)  # refuse an uncalibrated model before the file is touched
    paths = collect_paths(inputs)
    handle, writer, done = open_output(out, columns, overwrite)
    todo = [p for p in paths if str(p) not in done]
    summary = {"out": str(out), "total": len(paths), "skipped": len(paths) - len(todo), "written": 0, "errors": 0}
    bar = _progress_bar(len(todo), progress)
    try:
        for batch in iter_predictions(predictor, todo, batch_size, conformal):
            writer.writerows(_row(record, predictor.classes, conformal is not None) for record in batch)
            handle.flush()
            summary["written"] += len(batch)
            summary["errors"] += sum("error" in record for record in batch)
            bar.update(len(batch))
    finally:
        bar.close()
        handle.close()
    return summary
