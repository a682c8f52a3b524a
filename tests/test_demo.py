"""``keras-cxr demo`` end to end at a tiny size: every artifact its report links exists."""

import json
import re

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
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert set(summary["pointing_game"]) == {"gradcam", "lime"}
    assert summary["export"]["parity"]["images"] > 0
    _check_pages(out)


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
