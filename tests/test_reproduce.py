"""``keras-cxr reproduce PAPER --quick`` end to end on synthetic data laid out as each paper's dataset.

The default suite runs one row of four papers' tables (Chen et al.'s with ``-m slow``); ``-m slow`` runs every row.
"""

import json
from pathlib import Path

import pytest

from keras_cxr.cli import main
from keras_cxr.data import read_manifest
from keras_cxr.reproduce import get_protocol
from keras_cxr.testing import write_paper_dataset

# One light row per paper for the default suite (every row, the papers' own networks included, with -m slow).
QUICK_ROWS = {"li2023": "mobilenet", "zhong2020": None, "cheng_dpn_se": "resnet18",
              "chen_resnet_ct": "resnet50", "covid_densenet": "DenseNet-121 (balanced)"}


def _reproduce(paper, tmp_path, only):
    data = write_paper_dataset(paper, tmp_path / "data", per_class=8, size=48)
    out = tmp_path / "out"
    argv = ["reproduce", paper, "--data", str(data), "--out", str(out), "--quick"]
    argv += ["--only", only] if only else []
    if paper == "covid_densenet":
        external = write_paper_dataset(paper, tmp_path / "external", per_class=2, size=48, seed=7)
        argv += ["--external", str(external)]
    assert main(argv) == 0
    return out, json.loads((out / "results.json").read_text())["rows"]


def _table_rows(report, title):
    """{model: [cells]} of the markdown table under ``### title``."""
    block = report.split(f"### {title}")[1].split("\n\n")[2]
    rows = [line.strip("|").split(" | ") for line in block.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows}


def _check(paper, out, rows):
    protocol = get_protocol(paper)
    report = (out / "reproduce.md").read_text()
    for name, result in rows.items():
        metrics = result["metrics"]
        assert 0.0 <= metrics["accuracy"] <= 1.0
        split = read_manifest(Path(result["run_dir"]) / "split.csv")
        assert metrics["num_images"] == len(split.subset(protocol.score_split).records)  # the paper's split
    for table in protocol.tables:
        cells = _table_rows(report, table.title)
        assert list(cells) == list(table.rows)
        for row in table.rows:
            for column, text in zip(table.columns, cells[row]):
                reported = table.reported.get(row, {}).get(column.title)
                here, _, rest = text.partition(" / ")
                if row not in rows:
                    assert here == "not run"
                    continue
                measured = rows[row]["metrics"].get(column.metric)
                assert here == ("-" if measured is None else f"{measured * column.scale:.{column.digits}f}")
                if reported is not None and measured is not None:  # "measured / paper (measured - paper)"
                    diff = float(rest.split("(")[1].rstrip(")"))
                    assert diff == pytest.approx(float(here) - reported, abs=1.1 * 10 ** -column.digits)
    return report


# Chen et al.'s ResNet-50 row costs the most (its speed is measured too); it runs with -m slow, and the other four
# papers' rows exercise the same runner in the default suite.
SLOW_QUICK_ROWS = ("chen_resnet_ct",)


@pytest.mark.parametrize("paper", [pytest.param(p, marks=pytest.mark.slow) if p in SLOW_QUICK_ROWS else p
                                   for p in sorted(QUICK_ROWS)])
def test_quick_reproduction_on_the_papers_own_layout(paper, tmp_path):
    out, rows = _reproduce(paper, tmp_path, QUICK_ROWS[paper])
    report = _check(paper, out, rows)
    (name, result), = rows.items()
    run = Path(result["run_dir"])
    split = read_manifest(run / "split.csv")
    if paper == "zhong2020":  # the published 24-image test split kept; validation carved from train; last epoch
        assert len(split.subset("test").records) == 24 and split.subset("val").records
        assert split.classes == ["COVID-19", "Normal", "Pneumonia"]
        assert json.loads((run / "state.json").read_text())["best_epoch"] == 0
    if paper == "li2023":  # Lung_Opacity read as bacterial pneumonia; the recipe's TV denoising applied
        assert "Bacterial Pneumonia" in split.classes and "Lung Opacity" not in split.classes
        assert json.loads((run / "preprocessing.json").read_text())["denoise"]["method"] == "tv"
        assert "optimistic" in report
    if paper == "cheng_dpn_se":
        assert {"covid_precision", "covid_recall", "covid_f1"} <= set(result["metrics"])
    if paper == "chen_resnet_ct":
        assert result["metrics"]["cpu_images_per_second"] > 0
    if paper == "covid_densenet":
        assert 0.0 <= result["metrics"]["external_accuracy"] <= 1.0


def test_reproduce_refuses_unknown_rows_and_foreign_output_folders(tmp_path, capsys):
    data = write_paper_dataset("chen_resnet_ct", tmp_path / "data", per_class=2, size=32)
    assert main(["reproduce", "chen_resnet_ct", "--data", str(data), "--out", str(tmp_path / "o"), "--quick",
                 "--only", "resnet5"]) == 2
    assert "has no row ['resnet5']" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["reproduce", "chen_resnet_ct", "--data", str(data), "--out", str(tmp_path / "mine"), "--quick"]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@pytest.mark.slow
@pytest.mark.parametrize("paper", sorted(QUICK_ROWS))
def test_quick_reproduction_of_every_row(paper, tmp_path):
    out, rows = _reproduce(paper, tmp_path, None)
    assert list(rows) == [r.name for r in get_protocol(paper).rows]
    _check(paper, out, rows)


def test_a_paper_scored_on_its_published_test_set_needs_one(tmp_path, capsys):
    from keras_cxr.data import generate_dataset

    generate_dataset(tmp_path / "flat", per_class=2, size=32)
    assert main(["reproduce", "zhong2020", "--data", str(tmp_path / "flat"), "--out", str(tmp_path / "o"),
                 "--quick"]) == 2
    assert "--set data.test_fraction=0.2" in capsys.readouterr().err
