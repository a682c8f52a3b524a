"""``keras-cxr demo`` end to end at a tiny size: every artifact its report links exists."""

import csv
import json
import re
from collections import Counter

import pytest

from keras_cxr.cli import main


def test_demo_runs_end_to_end_and_links_only_existing_artifacts(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--per-class", "6", "--epochs", "1", "--size", "32",
                 "--batch-size", "8"]) == 0
    printed = capsys.readouterr().out
    for step in range(1, 7):
        assert f"[{step}/6]" in printed
    assert "Report:" in printed
    report = (out / "report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", report)
    assert len(links) >= 15
    for link in links:
        assert (out / link).exists(), link
    for section in ("## 1. Data", "## 2. Training", "## 3. Evaluation", "## 4. Explanations", "## 5. Export"):
        assert section in report
    summary = json.loads((out / "demo_summary.json").read_text())
    _check_accuracy_is_the_test_splits(out, summary)
    assert set(summary["pointing_game"]) == {"gradcam", "lime"}
    assert summary["export"]["parity"]["images"] > 0
    _check_pages(out)


def _check_accuracy_is_the_test_splits(out, summary):
    """One epoch at 32 px: the accuracy itself is noise, but it is the test split's, wherever it is reported."""
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    with open(out / "evaluation" / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(out / "data" / "split.csv", newline="") as handle:
        test_rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    assert len(rows) == len(test_rows) > 0
    assert sorted(r["true_label"] for r in rows) == sorted(r["label"] for r in test_rows)
    classes = metrics["confusion_matrix"]["labels"]
    for row in rows:  # the predicted label is the most probable class of the row
        assert row["predicted_label"] == max(classes, key=lambda c: float(row[f"prob_{c}"])), row
    pairs = Counter((r["true_label"], r["predicted_label"]) for r in rows)
    assert metrics["confusion_matrix"]["counts"] == [[pairs[t, p] for p in classes] for t in classes]
    correct = sum(r["true_label"] == r["predicted_label"] for r in rows)
    recomputed = correct / len(rows)
    assert summary["test_accuracy"] == metrics["accuracy"] == pytest.approx(recomputed, abs=1e-12)
    assert f"Test accuracy **{recomputed:.1%}**" in (out / "report.md").read_text()


def _check_pages(out):
    """The demo's report.html and its evaluation's and explanations' pages: self-contained, every picture there."""
    for page in (out / "report.html", out / "evaluation" / "report.html", out / "explanations" / "report.html"):
        html = page.read_text()
        sources = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', html)
        assert sources, page
        for source in sources:
            assert source.startswith("data:image/") or (page.parent / source).is_file(), (page, source[:80])
        assert not re.search(r'(src|href)="https?://', html), page
    top = (out / "report.html").read_text()
    assert 'href="evaluation/report.html"' in top and 'href="explanations/report.html"' in top
    assert "test accuracy" in top  # the headline tiles
