"""``keras-cxr data check``: what is in a dataset, and what is wrong with it.

Reports unreadable files with the reason, class counts (per split), image sizes
and bit depths, files a manifest lists on more than one row (every other
command refuses such a manifest), duplicate images by content hash, inside one
split and across splits (the same image in train and test is leakage), near-duplicates
(re-encoded, resized or cropped copies; :mod:`keras_cxr.data.duplicates`) with the pairs
across splits and the pairs under different labels (label conflicts), and what the manifest
left out or guessed (skipped non-image files, empty class folders, excluded
rows, file names standing in for patient ids). With an output folder the
report and the unreadable files (``bad_files.csv``) are also written there.
"""

import csv
import dataclasses
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from keras_cxr.data.duplicates import find_duplicate_pairs
from keras_cxr.data.integrity import scan_files
from keras_cxr.data.manifest import DUPLICATE_PATHS, FILE_NAME_PATIENTS, format_counts
from keras_cxr.data.sources import load_any

REPORT_FILE = "check.txt"
BAD_FILES = "bad_files.csv"


@dataclasses.dataclass
class DataReport:
    num_files: int
    counts: str
    bad: list
    sizes: dict
    bit_depths: dict
    formats: dict
    duplicates_within: list
    duplicates_across: list
    notes: list = dataclasses.field(default_factory=list)
    repeated_rows: dict = dataclasses.field(default_factory=dict)  # {path: [manifest line numbers]}
    duplicate_pairs: list = dataclasses.field(default_factory=list)  # DuplicatePair, exact and near

    @property
    def near_duplicates(self):
        return [pair for pair in self.duplicate_pairs if pair.kind == "near"]

    @property
    def near_across(self):
        return [pair for pair in self.near_duplicates if pair.across_splits]

    @property
    def label_conflicts(self):
        return [pair for pair in self.duplicate_pairs if pair.label_conflict]

    @property
    def ok(self):
        return not (self.bad or self.duplicates_across or self.repeated_rows or self.near_across
                    or self.label_conflicts)

    def to_text(self):
        lines = [f"{self.num_files} files", "", self.counts, ""]
        if self.sizes:
            lines.append(
                "image size (h x w): min {min_h}x{min_w}, median {med_h}x{med_w}, max {max_h}x{max_w}".format(
                    **self.sizes
                )
            )
        lines.append("bit depth: " + ", ".join(f"{k}-bit: {v}" for k, v in sorted(self.bit_depths.items())))
        lines.append("formats: " + ", ".join(f"{k}: {v}" for k, v in sorted(self.formats.items())))
        lines.append("")
        lines.append(f"unreadable files: {len(self.bad)}")
        lines.extend(f"  {path}: {reason}" for path, reason in self.bad)
        refused = " (other commands refuse this manifest)" if self.repeated_rows else ""
        lines.append(f"files listed on more than one manifest row: {len(self.repeated_rows)}{refused}")
        lines.extend(f"  {path}: lines {', '.join(map(str, rows))}" for path, rows in self.repeated_rows.items())
        lines.append(f"duplicate images within a split: {len(self.duplicates_within)} group(s)")
        lines.extend("  " + " == ".join(group) for group in self.duplicates_within)
        lines.append(f"duplicate images ACROSS splits (leakage): {len(self.duplicates_across)} group(s)")
        lines.extend("  " + " == ".join(group) for group in self.duplicates_across)
        lines.append(f"near-duplicate pairs (re-encoded, resized or cropped copies): {len(self.near_duplicates)}, "
                     f"{len(self.near_across)} across splits (leakage), {len(self.label_conflicts)} with different "
                     "labels (label conflicts)")
        lines.extend(f"  {_describe(pair)}" for pair in self.near_duplicates)
        exact_conflicts = [pair for pair in self.label_conflicts if pair.kind == "exact"]
        if exact_conflicts:
            lines.append(f"identical files with different labels (label conflicts): {len(exact_conflicts)}")
            lines.extend(f"  {_describe(pair)}" for pair in exact_conflicts)
        if self.notes:
            lines += ["", "left out or assumed when the manifest was made:"] + [f"  {note}" for note in self.notes]
        return "\n".join(lines)

    def write(self, out_dir):
        """Write ``check.txt`` and, when any file is unreadable, ``bad_files.csv`` into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / REPORT_FILE).write_text(self.to_text() + "\n")
        written = [out_dir / REPORT_FILE]
        if self.bad:
            with open(out_dir / BAD_FILES, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["path", "reason"])
                writer.writerows(self.bad)
            written.append(out_dir / BAD_FILES)
        return written


def _describe(pair):
    """One line for a near-duplicate pair: both files with label and split, the distance, what is wrong."""
    def side(entry):
        return f"{entry['path']} [{', '.join(v for v in (entry['label'], entry['split']) if v)}]"

    flags = [name for name, on in (("ACROSS splits", pair.across_splits), ("LABEL CONFLICT", pair.label_conflict))
             if on]
    evidence = f"(hash distance {pair.distance}, detail {pair.similarity:.2f})"
    return f"{side(pair.first)} ~ {side(pair.second)} {evidence}" + (f": {', '.join(flags)}" if flags else "")


def manifest_notes(meta):
    """Lines on what a manifest's adapter skipped, excluded or filled in (from its ``meta``)."""
    notes = []
    skipped = meta.get("skipped")
    if skipped:
        shown = ", ".join(skipped.get("files", []))
        more = f", ... ({skipped['count'] - len(skipped.get('files', []))} more)" if skipped["count"] > len(
            skipped.get("files", [])) else ""
        notes.append(f"skipped {skipped['count']} file(s) ({skipped.get('reason', 'not images')}): {shown}{more}")
    if meta.get("empty_class_folders"):
        notes.append(f"class folder(s) without images: {', '.join(meta['empty_class_folders'])}")
    for reason, count in sorted((meta.get("excluded") or {}).items()):
        notes.append(f"excluded {count}: {reason}")
    if meta.get(FILE_NAME_PATIENTS):
        notes.append(f"{meta[FILE_NAME_PATIENTS]} row(s) use their file name as patient id: "
                     "the split is image-level for them")
    return notes


def check_dataset(source, progress=False):
    """Scan a manifest or folder; returns a :class:`DataReport`."""
    manifest = load_any(source, allow_duplicates=True)  # repeated rows are reported here, not an error
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    infos = scan_files(paths, progress=progress)
    good = [infos[p] for p in dict.fromkeys(paths) if infos[p].ok]
    bad = [(p, infos[p].reason) for p in dict.fromkeys(paths) if not infos[p].ok]
    sizes = {}
    if good:
        h = np.array([i.height for i in good])
        w = np.array([i.width for i in good])
        sizes = dict(min_h=h.min(), min_w=w.min(), med_h=int(np.median(h)), med_w=int(np.median(w)),
                     max_h=h.max(), max_w=w.max())
    by_hash, hashed = defaultdict(list), set()
    for record, path in zip(manifest.records, paths):
        if infos[path].ok and (path, record.get("split", "")) not in hashed:  # a repeated row is not a copy
            hashed.add((path, record.get("split", "")))
            by_hash[infos[path].sha1].append((record.get("split", ""), path))
    within, across = [], []
    for entries in by_hash.values():
        if len(entries) < 2:
            continue
        splits = {s for s, _ in entries}
        group = [f"{p} [{s}]" if s else p for s, p in entries]
        (across if len(splits) > 1 else within).append(group)
    return DataReport(
        num_files=len(paths),
        counts=format_counts(manifest),
        bad=bad,
        sizes=sizes,
        bit_depths=dict(Counter(i.bit_depth for i in good)),
        formats=dict(Counter(i.format for i in good)),
        duplicates_within=within,
        duplicates_across=across,
        notes=manifest_notes(manifest.meta),
        repeated_rows=dict(manifest.meta.get(DUPLICATE_PATHS, {})),
        duplicate_pairs=find_duplicate_pairs(manifest, infos),
    )
