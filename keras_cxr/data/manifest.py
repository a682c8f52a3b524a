"""Manifests: one CSV describing a dataset, plus its class list.

A manifest is a CSV with at least ``path,label,patient_id,source`` (and
``split`` once split; any other column is kept). ``path`` is absolute or
relative to the manifest's folder. Beside ``NAME.csv`` lives ``NAME.json``,
holding the class names in order and any relabelling, so training and
evaluation map labels to indices the same way every time. A manifest written
by hand without the JSON is accepted: its classes are then its labels, sorted.

The CSV is UTF-8, with or without a byte-order mark (Excel writes one). A file
listed on two rows is an error naming the rows: a repeated image counts twice
in every metric and can land in train and test at once (``keras-cxr data
check`` reports such rows instead of stopping).
"""

import csv
import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

REQUIRED_COLUMNS = ("path", "label", "patient_id", "source")
SPLITS = ("train", "val", "test")
# meta key: how many rows got their file name as patient id (the split is then image-level for them).
FILE_NAME_PATIENTS = "patient_id_from_file_name"
# meta key (read_manifest(allow_duplicates=True)): {path: [CSV line numbers]} of files listed more than once.
DUPLICATE_PATHS = "duplicate_paths"
SHOWN_DUPLICATES = 10


class DuplicatePathsError(ValueError):
    """A manifest lists the same file on several rows; ``duplicates`` is ``{path: [line numbers]}``."""

    def __init__(self, csv_path, duplicates):
        self.duplicates = duplicates
        shown = "; ".join(f"{path} (lines {', '.join(map(str, lines))})"
                          for path, lines in list(duplicates.items())[:SHOWN_DUPLICATES])
        more = f"; ... and {len(duplicates) - SHOWN_DUPLICATES} more" if len(duplicates) > SHOWN_DUPLICATES else ""
        super().__init__(
            f"{csv_path}: {len(duplicates)} file(s) listed on more than one row: {shown}{more}. A manifest lists "
            "each image once (a repeated image counts twice in the metrics and can be in train and test at "
            "once); remove the repeated rows")


@dataclasses.dataclass
class Manifest:
    """Rows (dicts of strings), the ordered class names, and the folder paths are relative to."""

    records: list
    classes: list
    root: Path = Path(".")
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.root = Path(self.root)
        self.classes = list(self.classes)
        unknown = sorted({r["label"] for r in self.records} - set(self.classes))
        if unknown:
            raise ValueError(f"Manifest labels {unknown} are not among its classes {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"Duplicate class names in {self.classes}")

    def __len__(self):
        return len(self.records)

    @property
    def columns(self):
        cols = list(REQUIRED_COLUMNS)
        for record in self.records:
            cols.extend(k for k in record if k not in cols)
        return cols

    def resolve(self, record_or_path):
        """Absolute path of a record (or of a manifest-relative path)."""
        path = record_or_path["path"] if isinstance(record_or_path, dict) else record_or_path
        path = Path(path)
        return path if path.is_absolute() else (self.root / path)

    def label_index(self, label):
        return self.classes.index(label)

    def has_splits(self):
        return bool(self.records) and all(r.get("split") for r in self.records)

    def subset(self, split):
        """The rows of one split (``"train"``, ``"val"``, ``"test"``), same classes and root."""
        if not self.has_splits():
            raise ValueError("This manifest has no 'split' column; run `keras-cxr data split` first")
        rows = [r for r in self.records if r["split"] == split]
        return Manifest(rows, self.classes, self.root, dict(self.meta))

    def counts(self, by_split=False):
        """``{class: n}``, or ``{split: {class: n}}`` with ``by_split``."""
        if not by_split:
            counter = Counter(r["label"] for r in self.records)
            return {c: counter.get(c, 0) for c in self.classes}
        result = {}
        for split in sorted({r.get("split", "") for r in self.records}, key=_split_order):
            counter = Counter(r["label"] for r in self.records if r.get("split", "") == split)
            result[split or "-"] = {c: counter.get(c, 0) for c in self.classes}
        return result

    def value_counts(self, column):
        """``{value: n}`` of a manifest column (blank cells as ``"(missing)"``), None if there is no such column."""
        if column not in self.columns:
            return None
        return dict(sorted(Counter(r.get(column) or "(missing)" for r in self.records).items()))

    def relabel(self, mapping, classes=None):
        """New manifest with labels renamed by ``mapping``; ``classes`` fixes the order."""
        rows = [dict(r, label=mapping.get(r["label"], r["label"])) for r in self.records]
        if classes is None:
            classes = _dedupe(mapping.get(c, c) for c in self.classes)
        meta = dict(self.meta)
        meta["relabel"] = {**meta.get("relabel", {}), **mapping}
        return Manifest(rows, classes, self.root, meta)

    def with_paths_relative_to(self, folder):
        """Rows with ``path`` and ``*_path`` columns relative to ``folder`` (absolute if not below it)."""
        folder = Path(folder).resolve()
        rows = []
        for record in self.records:
            row = dict(record)
            for column, value in record.items():
                if value and (column == "path" or column.endswith("_path")):
                    absolute = self.resolve(value).resolve()
                    try:
                        row[column] = absolute.relative_to(folder).as_posix()
                    except ValueError:
                        row[column] = str(absolute)
            rows.append(row)
        return Manifest(rows, self.classes, folder, dict(self.meta))

    def write(self, csv_path):
        """Write ``csv_path`` and its class sidecar ``.json``; paths become relative to its folder."""
        csv_path = Path(csv_path)
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        manifest = self.with_paths_relative_to(csv_path.parent)
        columns = manifest.columns
        with open(csv_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for record in manifest.records:
                writer.writerow({c: record.get(c, "") for c in columns})
        sidecar = {"classes": self.classes, **self.meta}
        classes_path(csv_path).write_text(json.dumps(sidecar, indent=2) + "\n")
        return csv_path


def classes_path(csv_path):
    """The JSON sidecar of a manifest CSV."""
    return Path(csv_path).with_suffix(".json")


def read_manifest(csv_path, classes=None, allow_duplicates=False):
    """Read a manifest CSV (and its sidecar, if present). ``classes`` overrides the order.

    A file listed on several rows raises :class:`DuplicatePathsError`; with ``allow_duplicates`` the
    rows are kept and listed in ``meta["duplicate_paths"]`` (for reports such as ``data check``).
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"Manifest not found: {csv_path}")
    try:
        records, filled, lines = _read_rows(csv_path)
    except UnicodeDecodeError as error:
        raise ValueError(f"{csv_path} is not a UTF-8 CSV file ({error.reason} at byte {error.start}); a manifest "
                         f"is a CSV with the columns {list(REQUIRED_COLUMNS)}") from None
    duplicates = _duplicate_paths(records, lines, csv_path.parent)
    if duplicates and not allow_duplicates:
        raise DuplicatePathsError(csv_path, duplicates)
    meta = {}
    sidecar = classes_path(csv_path)
    if sidecar.is_file():
        meta = json.loads(sidecar.read_text())
    file_classes = meta.pop("classes", None)
    if classes is None:
        classes = file_classes or sorted({r["label"] for r in records})
    if meta.pop(FILE_NAME_PATIENTS, 0):  # filled when the manifest was made: those rows kept their file name
        filled = sum(1 for r in records if r["patient_id"] == Path(r["path"]).stem)
    note_file_name_patients(meta, filled, len(records), csv_path)
    if duplicates:
        meta[DUPLICATE_PATHS] = duplicates
    return Manifest(records, list(classes), csv_path.parent, meta)


def _read_rows(csv_path):
    """(rows, how many got their file name as patient id, CSV line of each row); a BOM is dropped."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{csv_path}: missing column(s) {missing}; a manifest needs {list(REQUIRED_COLUMNS)}"
            )
        records, filled, lines = [], 0, []
        for row in reader:
            line = reader.line_num
            if not row.get("path") or not row.get("label"):
                raise ValueError(f"{csv_path}, line {line}: empty 'path' or 'label'")
            row = {k: (v or "").strip() for k, v in row.items() if k is not None}
            if not row.get("patient_id"):
                row["patient_id"] = Path(row["path"]).stem
                filled += 1
            if row.get("split") and row["split"] not in SPLITS:
                raise ValueError(f"{csv_path}, line {line}: split {row['split']!r} is not one of {SPLITS}")
            records.append(row)
            lines.append(line)
    return records, filled, lines


def _duplicate_paths(records, lines, root):
    """``{path as written: [line numbers]}`` for files named on several rows (compared after resolving)."""
    seen = {}
    for record, line in zip(records, lines):
        key = os.path.normpath(os.path.join(root, record["path"]))
        seen.setdefault(key, (record["path"], []))[1].append(line)
    return {shown: found for shown, found in seen.values() if len(found) > 1}


def note_file_name_patients(meta, count, total, where):
    """Record in ``meta`` and warn (once per call) that ``count`` rows use their file name as patient id.

    Such a row is its own patient, so a patient-grouped split cannot keep a patient's other images
    with it: the split is image-level for those rows and one patient may land in train and test.
    """
    if not count:
        return
    meta[FILE_NAME_PATIENTS] = int(count)
    from keras_cxr.utils.logging import get_logger

    get_logger().warning(
        "%s: %d of %d row(s) have no patient_id and use their file name instead, so each such image counts "
        "as its own patient: the split is image-level for them and one patient's images may leak between "
        "train and test. Add a patient_id column to split by patient.", where, count, total)


def _dedupe(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _split_order(name):
    return SPLITS.index(name) if name in SPLITS else len(SPLITS)


def format_counts(manifest):
    """Counts per class (and per split, when split) as an aligned text table."""
    table = manifest.counts(by_split=manifest.has_splits())
    if not manifest.has_splits():
        table = {"all": table}
    width = max(len(c) for c in manifest.classes + ["class"]) + 2
    header = "class".ljust(width) + "".join(s.rjust(8) for s in table) + "total".rjust(8)
    lines = [header]
    for cls in manifest.classes:
        values = [table[s][cls] for s in table]
        lines.append(cls.ljust(width) + "".join(f"{v:8d}" for v in values) + f"{sum(values):8d}")
    totals = [sum(table[s].values()) for s in table]
    lines.append("total".ljust(width) + "".join(f"{v:8d}" for v in totals) + f"{sum(totals):8d}")
    return "\n".join(lines)
