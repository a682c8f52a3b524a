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
