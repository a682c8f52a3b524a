"""``keras-cxr data check``: what is in a dataset, and what is wrong with it.

Reports unreadable files with the reason, class counts (per split), image sizes
and bit depths, and duplicate images by content hash, inside one split and
across splits (the same image in train and test is leakage).
"""

import dataclasses
from collections import Counter, defaultdict

import numpy as np

from keras_cxr.data.integrity import scan_files
from keras_cxr.data.manifest import format_counts, load_any


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

    @property
    def ok(self):
        return not self.bad and not self.duplicates_across

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
        lines.append(f"duplicate images within a split: {len(self.duplicates_within)} group(s)")
        lines.extend("  " + " == ".join(group) for group in self.duplicates_within)
        lines.append(f"duplicate images ACROSS splits (leakage): {len(self.duplicates_across)} group(s)")
        lines.extend("  " + " == ".join(group) for group in self.duplicates_across)
        return "\n".join(lines)


def check_dataset(source, progress=False):
    """Scan a manifest or folder; returns a :class:`DataReport`."""
    manifest = load_any(source)
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    infos = scan_files(paths, progress=progress)
    good = [infos[p] for p in paths if infos[p].ok]
    bad = [(p, infos[p].reason) for p in dict.fromkeys(paths) if not infos[p].ok]
    sizes = {}
    if good:
        h = np.array([i.height for i in good])
        w = np.array([i.width for i in good])
        sizes = dict(min_h=h.min(), min_w=w.min(), med_h=int(np.median(h)), med_w=int(np.median(w)),
                     max_h=h.max(), max_w=w.max())
    by_hash = defaultdict(list)
    for record, path in zip(manifest.records, paths):
        if infos[path].ok:
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
    )
