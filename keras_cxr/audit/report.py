"""The audit's ``audit.md`` (findings first, then the evidence) and its label x group figures."""

from pathlib import Path

import numpy as np

from keras_cxr.audit.confounding import describe
from keras_cxr.utils.outputs import write_text_atomic

PAIRS_SHOWN = 50  # in audit.md; audit.json lists every pair


def plot_table(table, path):
    """Label x group heat map: each group's label mix (columns sum to 1), counts in the cells."""
    from keras_cxr.utils.plotting import pyplot, save_figure

    plt = pyplot()
    counts = np.asarray(table["counts"])
    share = counts / np.maximum(counts.sum(axis=0, keepdims=True), 1)
    groups, labels = table["groups"], table["labels"]
    figure, axis = plt.subplots(figsize=(2.5 + 0.9 * len(groups), 1.5 + 0.6 * len(labels)))
    image = axis.imshow(share, cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    figure.colorbar(image, ax=axis, fraction=0.046, label=f"share of the {table['column']}'s images")
    axis.set_xticks(range(len(groups)), groups, rotation=35, ha="right")
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel(table["column"])
    axis.set_ylabel("label")
    v = table["cramers_v"]
    axis.set_title(f"label x {table['column']}" + (f": Cramér's V {v:.2f}" if v is not None else ""))
    for i in range(len(labels)):
        for j in range(len(groups)):
            axis.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                      color="white" if share[i, j] > 0.6 else "black")
    return save_figure(figure, path)


def findings(result):
    """The audit's problems as sentences, most serious first (empty: nothing found)."""
    summary = result["duplicates"]["summary"]
    lines = []
    for kind, name in (("exact", "identical files"), ("near", "near-duplicates")):
        entry = summary[kind]
        if entry["across_splits"]:
            lines.append(f"LEAKAGE: {entry['across_splits']} pair(s) of {name} across splits")
        if entry["label_conflicts"]:
            lines.append(f"LABEL CONFLICT: {entry['label_conflicts']} pair(s) of {name} with different labels")
    lines += [f"CONFOUND: {describe(t)}" for t in result["confounding"] if t["confounded"]]
    if result["unreadable"]:
        lines.append(f"UNREADABLE: {len(result['unreadable'])} file(s)")
    probes = result.get("shortcut_probes")
    if probes and probes["verdict"]["flagged"]:
        lines.append(f"SHORTCUT: {probes['verdict']['reason']}")
    return lines


def write_markdown(result, figures, path):
    """``audit.md``: findings, duplicate summary and pairs, one section per label x group table."""
    found = findings(result)
    lines = [f"# Data audit: {result['data']}", "", f"{result['images']} images.", "", "## Findings", ""]
    lines += [f"- {line}" for line in found] or ["- none: no leakage, label conflict, strong confound or shortcut"]
    lines += _duplicate_section(result["duplicates"])
    for table in result["confounding"]:
        lines += _table_section(table, figures.get(table["column"]))
    if result["not_tabulated"]:
        lines += ["", f"Not tabulated (no such manifest column): {', '.join(result['not_tabulated'])}. "
                  "Add the columns to the manifest to check for source or population confounds."]
    if result.get("shortcut_probes"):
        lines += _probe_section(result["shortcut_probes"])
    if result["unreadable"]:
        lines += ["", "## Unreadable files", ""] + [f"- {u['path']}: {u['reason']}" for u in result["unreadable"]]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def _duplicate_section(duplicates):
    summary = duplicates["summary"]
    lines = ["", "## Duplicates", "",
             f"Near-duplicates: difference-hash distance <= {duplicates['max_distance']} of 256 bits and fine-detail "
             f"correlation >= {duplicates['min_similarity']} (keras_cxr.data.duplicates).", "",
             "| kind | pairs | across splits | across sources | label conflicts |", "|---|---:|---:|---:|---:|"]
    for kind, entry in summary.items():
        lines.append(f"| {kind} | {entry['pairs']} | {entry['across_splits']} | {entry['across_sources']} | "
                     f"{entry['label_conflicts']} |")
    shown = duplicates["pairs"][:PAIRS_SHOWN]
    if shown:
        lines += ["", "| kind | distance | detail | first (label, split, source) | second (label, split, source) |",
                  "|---|---:|---:|---|---|"]
        lines += [f"| {p['kind']} | {p['distance']} | {p['similarity']:.2f} | {_side(p['first'])} | "
                  f"{_side(p['second'])} |" for p in shown]
        if len(duplicates["pairs"]) > len(shown):
            lines.append(f"\n... {len(duplicates['pairs']) - len(shown)} more pair(s) in audit.json")
    return lines


def _side(entry):
    details = ", ".join(v for v in (entry["label"], entry["split"], entry["source"]) if v)
    return f"{entry['path']} ({details})"


def _table_section(table, figure):
    lines = ["", f"## Label x {table['column']}", "", describe(table) + ".", "",
             "| label | " + " | ".join(table["groups"]) + " |", "|---|" + "---:|" * len(table["groups"])]
    lines += [f"| {label} | " + " | ".join(str(c) for c in row) + " |"
              for label, row in zip(table["labels"], table["counts"])]
    if figure:
        lines += ["", f"![label x {table['column']}]({Path(figure).name})"]
    return lines


CONDITION_NAMES = {"none": "as is", "lungs_masked": "lung fields hidden", "only_lungs": "only the lung fields kept",
                   "border_masked": "border hidden"}


def _probe_section(probes):
    """Shortcut probes: occlusion accuracies and the verdict, Grad-CAM energy, the linear probe per column."""
    fields = probes["lung_fields"]
    box = "a fixed box, rows {top:.0%}-{bottom:.0%} and columns {left:.0%}-{right:.0%} of the view"
    where = f"masks from {fields['folder']}" if fields["source"] == "masks" else box.format(**fields["box"])
    verdict = probes["verdict"]
    lines = ["", f"## Shortcut probes: {probes['model']}", "",
             f"{probes['images']} images ({probes['image_set']}). Lung fields: {where}; border: "
             f"{fields['border_fraction']:.0%} of each side. Hidden regions are filled with the median grey they hide.",
             "", "| condition | accuracy | 95% interval |", "|---|---:|---|"]
    lines += [f"| {CONDITION_NAMES[c]} | {v['value']:.3f} | {_interval(v)} |" for c, v in probes["occlusion"].items()]
    lines += ["", f"Chance (the largest class's share): {verdict['chance']:.3f}. "
              + ("FLAGGED: " if verdict["flagged"] else "Not flagged: " if verdict["judged"] else "")
              + f"{verdict['reason']}."]
    cam = probes["gradcam"]
    lines += ["", f"Grad-CAM ({cam['layer']}, predicted class): {cam['energy_in_lungs']:.0%} of the energy inside the "
              f"lung fields, which cover {cam['lung_share']:.0%} of the view (a map blind to them would put about "
              "that share there). By predicted class: "
              + ", ".join(f"{c} {share:.0%}" for c, share in cam["by_predicted_class"].items()) + "."]
    if not probes["linear_probe"]:
        return lines + ["", "Linear probe: no source or population column to predict (name columns with --by)."]
    lines += ["", "Linear probe on the pooled features (logistic regression, out-of-fold):", "",
              "| column | groups | images | AUROC | 95% interval |", "|---|---|---:|---:|---|"]
    for probe in probes["linear_probe"]:
        groups = ", ".join(f"{g} ({n})" for g, n in probe["groups"].items())
        if probe["skipped"]:
            lines.append(f"| {probe['column']} | {groups} | | | skipped: {probe['skipped']} |")
        else:
            auroc = probe["auroc"]
            lines.append(f"| {probe['column']} | {groups} | {probe['images']} | {auroc['value']:.3f} | "
                         f"{_interval(auroc)} |")
    return lines


def _interval(entry):
    return "-" if entry.get("lower") is None else f"{entry['lower']:.3f}-{entry['upper']:.3f}"


def headline(result):
    """``report.html``'s tiles: images, findings, duplicate pairs across splits, the strongest confound."""
    summary = result["duplicates"]["summary"]
    across = sum(summary[k]["across_splits"] for k in ("exact", "near"))
    tiles = [{"label": "images", "value": f"{result['images']:,}", "detail": f"{len(result['unreadable'])} unreadable"},
             {"label": "findings", "value": str(len(findings(result))), "detail": "listed first below"},
             {"label": "duplicates across splits", "value": str(across),
              "detail": f"{summary['exact']['pairs']} identical, {summary['near']['pairs']} near pairs in all"}]
    judged = [t for t in result["confounding"] if t["cramers_v"] is not None]
    if judged:
        worst = max(judged, key=lambda t: t["cramers_v"])
        tiles.append({"label": f"label x {worst['column']}", "value": f"V = {worst['cramers_v']:.2f}",
                      "detail": "Cramér's V (0: independent, 1: the group gives the label)"})
    probes = result.get("shortcut_probes")
    if probes:
        tiles.append({"label": "shortcut probes", "value": "FLAGGED" if probes["verdict"]["flagged"] else "not flagged",
                      "detail": probes["model"]})
    return tiles
