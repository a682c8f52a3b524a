"""``keras-cxr data``: synth -> split -> check -> manifest -> preprocess, as a user runs them."""

import csv
import json
from collections import Counter

from keras_cxr.cli import main
from keras_cxr.data import read_manifest
from keras_cxr.data.synthetic import CLASSES


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _sizes(folder):
    """``{relative path: (width, height)}`` of the PNGs below ``folder``."""
    from PIL import Image

    sizes = {}
    for path in sorted(folder.rglob("*.png")):
        with Image.open(path) as image:
            sizes[path.relative_to(folder).as_posix()] = image.size
    return sizes


def test_data_commands_end_to_end(tmp_path, capsys):
    synth = tmp_path / "synth"
    assert main(["data", "synth", "--out", str(synth), "--per-class", "6", "--size", "64", "--seed", "1"]) == 0
    assert "COVID-19" in capsys.readouterr().out
    rows = _rows(synth / "manifest.csv")
    assert Counter(r["label"] for r in rows) == {c: 6 for c in CLASSES}
    assert {"path", "label", "patient_id", "source", "mask_path"} <= set(rows[0])
    assert set(_sizes(synth / "images").values()) == {(64, 64)} and len(_sizes(synth / "images")) == 24
    assert all((synth / r["path"]).is_file() and (synth / r["mask_path"]).is_file() for r in rows)

    manifest = read_manifest(synth / "manifest.csv")  # extra columns (population, age...) must survive a split
    type(manifest)([dict(r, population="adult" if i % 2 else "pediatric") for i, r in enumerate(manifest.records)],
                   manifest.classes, manifest.root).write(synth / "manifest.csv")
    assert main(["data", "split", str(synth / "manifest.csv"), "--out", str(tmp_path / "split.csv"),
                 "--val", "0.2", "--test", "0.2", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "test" in out and "no patient in two splits" in out
    split_rows = _rows(tmp_path / "split.csv")
    assert len(split_rows) == 24 and {"split", "population"} <= set(split_rows[0])
    assert Counter(r["split"] for r in split_rows).keys() == {"train", "val", "test"}
    splits_of = {}
    for r in split_rows:
        splits_of.setdefault(r["patient_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in splits_of.values())  # no patient in two splits, in the file itself
    split = read_manifest(tmp_path / "split.csv")
    assert [r["population"] for r in split.records] == [r["population"] for r in read_manifest(
        synth / "manifest.csv").records]
    assert [split.resolve(r) for r in split.records] == [manifest.resolve(r) for r in manifest.records]

    assert main(["data", "check", str(tmp_path / "split.csv"), "--out", str(tmp_path / "check")]) == 0
    assert "unreadable files: 0" in capsys.readouterr().out
    check = (tmp_path / "check" / "check.txt").read_text().splitlines()
    assert check[0] == "24 files" and "unreadable files: 0" in check and "formats: PNG: 24" in check
    assert "duplicate images ACROSS splits (leakage): 0 group(s)" in check
    assert not (tmp_path / "check" / "bad_files.csv").exists()

    assert main(["data", "manifest", str(synth / "images"), "--layout", "folders", "--out",
                 str(tmp_path / "folders.csv"), "--relabel", "Bacterial_Pneumonia=Bacterial Pneumonia"]) == 0
    assert "Bacterial Pneumonia" in json.loads((tmp_path / "folders.json").read_text())["classes"]
    folder_rows = _rows(tmp_path / "folders.csv")
    # Labels are the folder names, but for the one --relabel renamed.
    assert Counter(r["label"] for r in folder_rows) == {"COVID-19": 6, "Bacterial Pneumonia": 6,
                                                        "Viral_Pneumonia": 6, "Normal": 6}
    assert sorted((tmp_path / r["path"]).resolve() for r in folder_rows) == sorted(
        (synth / r["path"]).resolve() for r in rows)

    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--denoise", "tv", "--size", "32",
                 "--workers", "1"]) == 0
    assert "processed 24" in capsys.readouterr().out
    assert _sizes(tmp_path / "pre") == {r["path"]: (32, 32) for r in rows}  # every image, no mask
    settings = json.loads((tmp_path / "pre" / "preprocess.json").read_text())["options"]
    assert (settings["denoise"], settings["size"]) == ("tv", 32)
    pre_rows = _rows(tmp_path / "pre" / "manifest.csv")
    assert [r["label"] for r in pre_rows] == [r["label"] for r in rows]
    assert all((tmp_path / "pre" / r["path"]).resolve() == (tmp_path / "pre" / o["path"]).resolve()
               for r, o in zip(pre_rows, rows))
    # Other settings into the same folder: refused (naming the change) unless --overwrite.
    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--size", "16", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "denoise: 'tv' -> None" in err and "size: 32 -> 16" in err and "--overwrite" in err
    assert set(_sizes(tmp_path / "pre").values()) == {(32, 32)}  # nothing rewritten
    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--size", "16", "--workers", "1",
                 "--overwrite"]) == 0
    assert "processed 24" in capsys.readouterr().out
    assert _sizes(tmp_path / "pre") == {r["path"]: (16, 16) for r in rows}
    settings = json.loads((tmp_path / "pre" / "preprocess.json").read_text())["options"]
    assert (settings["denoise"], settings["size"]) == (None, 16)


def test_data_check_fails_on_a_bad_file(tmp_path, capsys):
    main(["data", "synth", "--out", str(tmp_path), "--per-class", "1", "--size", "32"])
    bad = next((tmp_path / "images").rglob("*.png"))
    bad.write_bytes(b"nope")
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path), "--out", str(tmp_path / "check")]) == 1
    assert "not an image" in capsys.readouterr().out
    (row,) = _rows(tmp_path / "check" / "bad_files.csv")
    assert list(row) == ["path", "reason"] and row["path"] == str(bad) and "not an image" in row["reason"]
    assert f"  {bad}: {row['reason']}" in (tmp_path / "check" / "check.txt").read_text().splitlines()


def test_data_manifest_errors_are_clean(tmp_path, capsys):
    assert main(["data", "manifest", str(tmp_path / "missing"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["data", "manifest", str(tmp_path), "--layout", "kermany", "--lung-opacity-as", "X",
                 "--out", str(tmp_path / "m.csv")]) == 2
    assert "covid19_radiography only" in capsys.readouterr().err
