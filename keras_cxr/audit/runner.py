"""``keras-cxr audit``: can this dataset's numbers be trusted? Leakage, label conflicts, confounds.

A review of 62 COVID-19 imaging models found none fit for clinical use, most
for data reasons: duplicates across splits, sources that equal classes
(Roberts et al. 2021). The audit looks for both before anyone trains:

- duplicates: identical files and near-duplicates (re-encoded, resized,
  cropped copies) within and across splits and sources, and copies under
  different labels (:mod:`keras_cxr.data.duplicates`);
- confounding: label x source and label x population tables with Cramér's V
  (:mod:`keras_cxr.audit.confounding`);
- given a trained model, shortcut probes: does it encode the site, and does
  its accuracy survive hiding the lungs (:mod:`keras_cxr.audit.shortcuts`).

It writes ``audit.json`` (everything), ``audit.md`` (the findings first), a
figure per table and ``report.html`` (the same, one self-contained page) into
the output folder.
"""

import json
from pathlib import Path

from keras_cxr.audit.confounding import confounding_table
from keras_cxr.audit.report import headline, plot_table, write_markdown
from keras_cxr.data.duplicates import CANDIDATE_DISTANCE, MIN_SIMILARITY, find_duplicate_pairs
from keras_cxr.data.integrity import scan_files
from keras_cxr.data.sources import load_any
from keras_cxr.utils.outputs import write_text_atomic

# Manifest columns tabulated against the label when present (the real-data manifests carry both).
DEFAULT_GROUP_COLUMNS = ("source", "population")


def audit_dataset(data, out_dir, by=None, max_distance=CANDIDATE_DISTANCE, min_similarity=MIN_SIMILARITY,
                  progress=False, model=None, lung_masks=None):
    """Audit a manifest or folder; writes ``out_dir`` and returns the ``audit.json`` dict.

    ``by``: manifest columns to tabulate against the label (default: those of
    DEFAULT_GROUP_COLUMNS the data has; a column named here must exist).
    Unreadable files are listed, not dropped silently. ``model`` (a run
    directory or ``.keras`` file) adds the shortcut probes, with lung fields
    from the ``lung_masks`` folder if given.
    """
    if lung_masks and not model:
        raise ValueError("--lung-masks is for the shortcut probes: give --model too")
    manifest = load_any(data)
    columns = _group_columns(manifest, by)
    paths = [str(manifest.resolve(r)) for r in manifest.records]
    infos = scan_files(paths, progress=progress)
    pairs = find_duplicate_pairs(manifest, infos, max_distance, min_similarity)
    labels = [r["label"] for r in manifest.records]
    tables = [confounding_table(labels, [r.get(c, "") for r in manifest.records], c) for c in columns]
    result = {
        "data": str(data),
        "images": len(paths),
        "unreadable": [{"path": p, "reason": infos[p].reason} for p in dict.fromkeys(paths) if not infos[p].ok],
        "duplicates": {"max_distance": max_distance, "min_similarity": min_similarity, "summary": _pair_summary(pairs),
                       "pairs": [pair.to_dict() for pair in pairs]},
        "confounding": tables,
        "not_tabulated": [c for c in DEFAULT_GROUP_COLUMNS if by is None and c not in manifest.columns],
    }
    if model:
        from keras_cxr.audit.shortcuts import shortcut_probes

        result["shortcut_probes"] = shortcut_probes(model, data, columns, lung_masks=lung_masks)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {table["column"]: plot_table(table, out_dir / f"label_by_{table['column']}.png") for table in tables}
    write_text_atomic(out_dir / "audit.json", json.dumps(result, indent=2) + "\n")
    write_markdown(result, figures, out_dir / "audit.md")
    from keras_cxr.pages.report_page import write_report_page

    write_report_page(out_dir / "audit.md", f"Data audit: {Path(str(data)).name}", headline=headline(result))
    return result


def _group_columns(manifest, by):
    if by is None:
        return [c for c in DEFAULT_GROUP_COLUMNS if c in manifest.columns]
    missing = [c for c in by if c not in manifest.columns]
    if missing:
        raise ValueError(f"--by {', '.join(missing)}: not a column of the data; its columns: {manifest.columns}")
    return list(by)


def _pair_summary(pairs):
    """Counts of duplicate pairs by kind and by what makes them a problem."""
    summary = {}
    for kind in ("exact", "near"):
        chosen = [p for p in pairs if p.kind == kind]
        summary[kind] = {"pairs": len(chosen), "across_splits": sum(p.across_splits for p in chosen),
                         "across_sources": sum(p.across_sources for p in chosen),
                         "label_conflicts": sum(p.label_conflict for p in chosen)}
    return summary
