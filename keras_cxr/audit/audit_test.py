import json
import shutil

import pytest
from PIL import Image

from keras_cxr.audit import audit_dataset, confounding_table
from keras_cxr.audit.confounding import describe
from keras_cxr.audit.report import findings
from keras_cxr.cli import main
from keras_cxr.data import generate_dataset, split_manifest


def test_cramers_v_is_one_when_the_source_is_the_label_and_near_zero_when_independent():
    labels = ["COVID-19"] * 30 + ["Normal"] * 30
    confounded = confounding_table(labels, ["hospital_a"] * 30 + ["kermany"] * 30, "source")
    assert confounded["cramers_v"] == pytest.approx(1.0) and confounded["confounded"]
    assert confounded["label_giving_groups"]["kermany"] == {"label": "Normal", "share": 1.0, "images": 30}
    assert confounded["counts"] == [[30, 0], [0, 30]] and confounded["groups"] == ["hospital_a", "kermany"]
    assert confounded["group_bound_labels"]["COVID-19"] == {"group": "hospital_a", "share": 1.0, "images": 30}
    # Adults in every class, but COVID-19 only among adults: "adult" gives no label away, yet it is a cue.
    populations = ["adult"] * 30 + ["adult"] * 15 + ["pediatric"] * 15
    bound = confounding_table(labels, populations, "population")
    assert "adult" not in bound["label_giving_groups"] and list(bound["group_bound_labels"]) == ["COVID-19"]
    assert "labels from one group: COVID-19: 100% adult (30 images)" in describe(bound)
    independent = confounding_table(labels, ["a", "b"] * 30, "source")
    assert independent["cramers_v"] < 0.1 and not independent["confounded"] and independent["label_giving_groups"] == {}
    single = confounding_table(labels, [""] * 60, "population")
    assert single["cramers_v"] is None and single["groups"] == ["(missing)"] and not single["confounded"]


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """A split synthetic set whose source gives COVID-19 away and with a cropped train image in val, relabelled."""
    root = tmp_path_factory.mktemp("audit")
    manifest = split_manifest(generate_dataset(root / "d", per_class=6, size=128, seed=0), val=0.5, seed=0)
    for record in manifest.records:
        record["source"] = "covid_hospital" if record["label"] == "COVID-19" else "public_archive"
    train = next(r for r in manifest.records if r["split"] == "train" and r["label"] == "Normal")
    other = next(r for r in manifest.records if r["split"] == "val" and r["label"] == "COVID-19")
    image = Image.open(manifest.resolve(train))
    image.crop((4, 4, 124, 124)).save(manifest.resolve(other))
    manifest.write(root / "d" / "split.csv")
    out = root / "out"
    return audit_dataset(root / "d" / "split.csv", out), out, manifest.resolve(train), manifest.resolve(other)


def test_audit_finds_the_relabelled_copy_across_splits_and_the_source_confound(audited):
    result, out, train, other = audited
    pairs = result["duplicates"]["pairs"]
    assert len(pairs) == 1 and pairs[0]["kind"] == "near"
    assert {pairs[0]["first"]["path"], pairs[0]["second"]["path"]} == {str(train), str(other)}
    assert pairs[0]["label_conflict"] and pairs[0]["across_splits"] and pairs[0]["across_sources"]
    assert result["duplicates"]["summary"]["near"] == {"pairs": 1, "across_splits": 1, "across_sources": 1,
                                                       "label_conflicts": 1}
    (source,) = result["confounding"]
    assert source["column"] == "source" and source["confounded"] and source["cramers_v"] > 0.9
    assert result["not_tabulated"] == ["population"]
    found = findings(result)
    assert [line.split(":")[0] for line in found] == ["LEAKAGE", "LABEL CONFLICT", "CONFOUND"]
    assert json.loads((out / "audit.json").read_text()) == result
    text = (out / "audit.md").read_text()
    assert all(line in text for line in found) and "![label x source](label_by_source.png)" in text
    assert (out / "label_by_source.png").stat().st_size > 1000


def test_audit_of_a_clean_set_finds_nothing_and_the_cli_exits_zero(tmp_path, capsys):
    manifest = generate_dataset(tmp_path / "d", per_class=3, size=96, seed=1)
    for index, record in enumerate(sorted(manifest.records, key=lambda r: (r["label"], r["path"]))):
        record["source"] = ("site_a", "site_b")[index % 2]  # each label from both sites
    manifest.write(tmp_path / "d" / "manifest.csv")
    assert main(["audit", "--data", str(tmp_path / "d" / "manifest.csv"), "--out", str(tmp_path / "out")]) == 0
    assert "No leakage, label conflict or strong confound found" in capsys.readouterr().out
    result = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert result["duplicates"]["pairs"] == [] and not result["confounding"][0]["confounded"]
    assert main(["audit", "--data", str(tmp_path / "d" / "manifest.csv"), "--out", str(tmp_path / "o2"),
                 "--by", "hospital"]) == 2
    assert "hospital" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "o2", ignore_errors=True)
