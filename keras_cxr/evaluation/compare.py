"""``compare``: the papers' comparison table from several evaluation directories."""

import csv
import json
from pathlib import Path

COLUMNS = ("model", "input", "params (M)", "GMACs", "accuracy (%)", "macro-F1 (%)", "positive sensitivity (%)",
           "images/s (batch 32)", "evaluation")


def comparison_rows(eval_dirs):
    rows = []
    for directory in eval_dirs:
        path = Path(directory) / "metrics.json"
        if not path.is_file():
            raise FileNotFoundError(f"{directory} holds no metrics.json (run keras-cxr evaluate first)")
        m = json.loads(path.read_text())
        positive = m.get("positive_vs_rest", {}).get("recall")
        rows.append({
            "model": m["model"]["name"],
            "input": "x".join(str(d) for d in m["model"]["input_shape"]),
            "params (M)": round(m["model"]["params"] / 1e6, 2),
            "GMACs": round(m["model"]["gmacs"], 3),
            "accuracy (%)": round(100 * m["accuracy"], 2),
            "macro-F1 (%)": round(100 * m["average"]["macro"]["f1"], 2),
            "positive sensitivity (%)": None if positive is None else round(100 * positive, 2),
            "images/s (batch 32)": round(m["throughput"]["batch_32"], 1),
            "evaluation": str(directory),
        })
    return sorted(rows, key=lambda r: (-r["accuracy (%)"], -r["macro-F1 (%)"]))


def write_comparison(eval_dirs, out_path):
    """Markdown table at ``out_path`` and the same rows as CSV beside it; returns the rows."""
    rows = comparison_rows(eval_dirs)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join("n/a" if row[c] is None else str(row[c]) for c in COLUMNS) + " |")
    out_path.write_text("\n".join(lines) + "\n")
    with open(out_path.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows
