"""``keras-cxr data``: synth -> split -> check -> manifest -> preprocess, as a user runs them."""

import json

from keras_cxr.cli import main
from keras_cxr.data import read_manifest


def test_data_commands_end_to_end(tmp_path, capsys):
    synth = tmp_path / "synth"
    assert main(["data", "synth", "--out", str(synth), "--per-class", "6", "--size", "64", "--seed", "1"]) == 0
    assert "COVID-19" in capsys.readouterr().out

    manifest = read_manifest(synth / "manifest.csv")  # extra columns (population, age...) must survive a split
    type(manifest)([dict(r, population="adult" if i % 2 else "pediatric") for i, r in enumerate(manifest.records)],
                   manifest.classes, manifest.root).write(synth / "manifest.csv")
    assert main(["data", "split", str(synth / "manifest.csv"), "--out", str(tmp_path / "split.csv"),
                 "--val", "0.2", "--test", "0.2", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "test" in out and "no patient in two splits" in out
    split = read_manifest(tmp_path / "split.csv")
    assert {r["split"] for r in split.records} == {"train", "val", "test"}
    assert [r["population"] for r in split.records] == [r["population"] for r in read_manifest(
        synth / "manifest.csv").records]

    assert main(["data", "check", str(tmp_path / "split.csv")]) == 0
    assert "unreadable files: 0" in capsys.readouterr().out

    assert main(["data", "manifest", str(synth / "images"), "--layout", "folders", "--out",
                 str(tmp_path / "folders.csv"), "--relabel", "Bacterial_Pneumonia=Bacterial Pneumonia"]) == 0
    assert "Bacterial Pneumonia" in json.loads((tmp_path / "folders.json").read_text())["classes"]

    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--denoise", "tv", "--size", "32",
                 "--workers", "1"]) == 0
    assert "processed 24" in capsys.readouterr().out
    # Other settings into the same folder: refused (naming the change) unless --overwrite.
    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--size", "16", "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "denoise: 'tv' -> None" in err and "size: 32 -> 16" in err and "--overwrite" in err
    assert main(["data", "preprocess", str(synth), str(tmp_path / "pre"), "--size", "16", "--workers", "1",
                 "--overwrite"]) == 0
    assert "processed 24" in capsys.readouterr().out


def test_data_check_fails_on_a_bad_file(tmp_path, capsys):
    main(["data", "synth", "--out", str(tmp_path), "--per-class", "1", "--size", "32"])
    next((tmp_path / "images").rglob("*.png")).write_bytes(b"nope")
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path)]) == 1
    assert "not an image" in capsys.readouterr().out


def test_data_manifest_errors_are_clean(tmp_path, capsys):
    assert main(["data", "manifest", str(tmp_path / "missing"), "--out", str(tmp_path / "m.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["data", "manifest", str(tmp_path), "--layout", "kermany", "--lung-opacity-as", "X",
                 "--out", str(tmp_path / "m.csv")]) == 2
    assert "covid19_radiography only" in capsys.readouterr().err
