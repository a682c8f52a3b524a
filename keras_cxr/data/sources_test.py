import numpy as np
import pytest

from keras_cxr.data import build_manifest, labels as L, load_any, read_manifest
from keras_cxr.data.sources import cohen_label, kermany_patient_id
from keras_cxr.testing import write_png

IMG = np.full((8, 8), 0.5, np.float32)


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, IMG)
    return path


def test_folders_layout(tmp_path):
    for cls, n in (("cats", 2), ("dogs", 3)):
        for i in range(n):
            _touch(tmp_path / cls / "sub" / f"{i}.png")
    (tmp_path / "dogs" / "readme.txt").write_text("not an image")
    manifest = build_manifest(tmp_path, "folders")
    assert manifest.classes == ["cats", "dogs"]
    assert manifest.counts() == {"cats": 2, "dogs": 3}
    assert build_manifest(tmp_path, "folders", classes=["dogs", "cats"]).classes == ["dogs", "cats"]
    with pytest.raises(ValueError, match="not in the given classes"):
        build_manifest(tmp_path, "folders", classes=["dogs"])


def test_covid19_radiography_layout_and_lung_opacity_mapping(tmp_path):
    for folder in ("COVID", "Normal", "Viral Pneumonia", "Lung_Opacity"):
        _touch(tmp_path / folder / "images" / f"{folder}-1.png")
        _touch(tmp_path / folder / "masks" / f"{folder}-1.png")  # masks are not images of the dataset
    manifest = build_manifest(tmp_path, "covid19_radiography")
    assert manifest.classes == [L.COVID, L.LUNG_OPACITY, L.VIRAL, L.NORMAL]
    assert len(manifest) == 4
    li2023 = build_manifest(tmp_path, "covid19_radiography", lung_opacity_label=L.BACTERIAL)
    assert li2023.classes == [L.COVID, L.BACTERIAL, L.VIRAL, L.NORMAL]
    assert li2023.meta["relabel"] == {"Lung_Opacity": L.BACTERIAL}


def test_kermany_layout_splits_pneumonia_and_finds_patients(tmp_path):
    root = tmp_path / "chest_xray"
    _touch(root / "train" / "PNEUMONIA" / "person1_bacteria_1.jpeg.png")
    _touch(root / "train" / "PNEUMONIA" / "person1_bacteria_2.png")
    _touch(root / "test" / "PNEUMONIA" / "person7_virus_13.png")
    _touch(root / "val" / "NORMAL" / "NORMAL2-IM-1427-0001.png")
    _touch(root / "train" / "PNEUMONIA" / "person9_unknown_3.png")
    manifest = build_manifest(tmp_path, "kermany")
    by_name = {r["path"].split("/")[-1]: r for r in manifest.records}
    assert by_name["person1_bacteria_2.png"]["label"] == L.BACTERIAL
    assert by_name["person7_virus_13.png"]["label"] == L.VIRAL
    assert by_name["person7_virus_13.png"]["split"] == "test"
    assert by_name["NORMAL2-IM-1427-0001.png"]["patient_id"] == "IM-1427"
    assert by_name["person1_bacteria_2.png"]["patient_id"] == "person1"
    assert sum(manifest.meta["excluded"].values()) == 1  # reported, not silently dropped
    assert kermany_patient_id("person1651_virus_2855.jpeg") == "person1651"


def test_cohen_layout_keeps_frontal_xrays(tmp_path):
    rows = [
        ("1", "PA", "X-ray", "Pneumonia/Viral/COVID-19", "a.png"),
        ("1", "AP Supine", "X-ray", "Pneumonia/Viral/COVID-19", "b.png"),
        ("2", "L", "X-ray", "Pneumonia/Viral/COVID-19", "c.png"),
        ("3", "PA", "CT", "Pneumonia/Viral/COVID-19", "d.png"),
        ("4", "AP", "X-ray", "Pneumonia/Bacterial/Streptococcus", "e.png"),
        ("5", "PA", "X-ray", "No Finding", "f.png"),
        ("6", "PA", "X-ray", "Tuberculosis", "g.png"),
        ("7", "PA", "X-ray", "Pneumonia/Viral/SARS", "h.png"),
    ]
    lines = ["patientid,view,modality,finding,folder,filename"]
    for patient, view, modality, finding, name in rows:
        lines.append(f"{patient},{view},{modality},{finding},images,{name}")
        _touch(tmp_path / "images" / name)
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n")
    manifest = build_manifest(tmp_path, "cohen")
    assert manifest.counts() == {L.COVID: 2, L.BACTERIAL: 1, L.VIRAL: 1, L.NORMAL: 1}
    assert {r["patient_id"] for r in manifest.records if r["label"] == L.COVID} == {"cohen_1"}
    assert sum(manifest.meta["excluded"].values()) == 3
    assert cohen_label("Pneumonia/Fungal/Pneumocystis") is None


def test_covidx_split_files(tmp_path):
    (tmp_path / "train_COVIDx9A.txt").write_text("p1 a.png positive rsna\np2 b.png negative sirm\n")
    (tmp_path / "test_COVIDx9A.txt").write_text("p3 c.png COVID-19 cohen\n\n")
    manifest = build_manifest(tmp_path, "covidx")
    assert manifest.classes == [L.COVID, "Negative"]
    assert [r["split"] for r in manifest.records] == ["train", "train", "test"]
    assert manifest.records[2]["path"].endswith("test/c.png")
    (tmp_path / "val_bad.txt").write_text("p4 d.png alien\n")
    with pytest.raises(ValueError, match="val_bad.txt, line 1: unknown COVIDx class 'alien'"):
        build_manifest(tmp_path, "covidx")


def test_relabel_and_round_trip_through_csv(tmp_path):
    for cls in ("Lung Opacity", "Normal"):
        _touch(tmp_path / "data" / cls / "x.png")
    manifest = build_manifest(tmp_path / "data", "folders", relabel={"Lung Opacity": L.BACTERIAL})
    path = manifest.write(tmp_path / "out" / "m.csv")
    back = read_manifest(path)
    assert back.classes == [L.BACTERIAL, "Normal"]
    assert back.meta["relabel"] == {"Lung Opacity": L.BACTERIAL}
    assert all(back.resolve(r).is_file() for r in back.records)


def test_hand_written_manifest_is_accepted_and_validated(tmp_path):
    _touch(tmp_path / "img.png")
    (tmp_path / "m.csv").write_text("path,label,patient_id,source\nimg.png,Normal,,mine\n")
    manifest = read_manifest(tmp_path / "m.csv")
    assert manifest.classes == ["Normal"] and manifest.records[0]["patient_id"] == "img"
    (tmp_path / "bad.csv").write_text("file,label\nimg.png,Normal\n")
    with pytest.raises(ValueError, match="missing column"):
        read_manifest(tmp_path / "bad.csv")


def test_manifest_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    _touch(tmp_path / "röntgen bild.png")
    text = "path,label,patient_id,source\nröntgen bild.png,Normal,p1,mine\n"
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")  # what Excel's "CSV UTF-8" writes
    manifest = read_manifest(tmp_path / "bom.csv")
    assert manifest.records[0]["path"] == "röntgen bild.png" and manifest.resolve(manifest.records[0]).is_file()
    (tmp_path / "latin1.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.csv is not a UTF-8 CSV file"):
        read_manifest(tmp_path / "latin1.csv")


def test_manifest_listing_a_file_twice_is_refused_naming_the_rows(tmp_path):
    from keras_cxr.data.manifest import DuplicatePathsError

    for name in ("a.png", "b.png"):
        _touch(tmp_path / name)
    (tmp_path / "m.csv").write_text("path,label,patient_id,source\na.png,Normal,p1,x\nb.png,Normal,p2,x\n"
                                    "./a.png,COVID-19,p3,x\n")
    with pytest.raises(DuplicatePathsError, match=r"1 file\(s\) listed on more than one row: a.png \(lines 2, 4\)"):
        load_any(tmp_path / "m.csv")
    manifest = read_manifest(tmp_path / "m.csv", allow_duplicates=True)
    assert len(manifest) == 3 and manifest.meta["duplicate_paths"] == {"a.png": [2, 4]}


def test_unknown_layout():
    with pytest.raises(ValueError, match="covidx"):
        build_manifest(".", "nih")


def test_rows_without_patient_id_warn_once_that_the_split_is_image_level(tmp_path, cxr_log):
    _touch(tmp_path / "a.png"), _touch(tmp_path / "b.png"), _touch(tmp_path / "c.png")
    rows = ["path,label,patient_id,source", "a.png,Normal,,x", "b.png,Normal,,x", "c.png,Normal,p1,x"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    manifest = read_manifest(tmp_path / "m.csv")
    warnings = [m for m in cxr_log.warnings() if "patient_id" in m]
    assert len(warnings) == 1 and "2 of 3 row(s)" in warnings[0] and "image-level" in warnings[0]
    assert "leak between train and test" in warnings[0] and "m.csv" in warnings[0]
    assert manifest.meta["patient_id_from_file_name"] == 2
    manifest.write(tmp_path / "again.csv")  # the filled ids are written out; reading it back still says so
    assert read_manifest(tmp_path / "again.csv").meta["patient_id_from_file_name"] == 2
    assert len([m for m in cxr_log.warnings() if "image-level" in m]) == 2


def test_folders_layout_warns_that_file_names_are_patients(tmp_path, cxr_log):
    _touch(tmp_path / "Normal" / "x.png")
    manifest = build_manifest(tmp_path, "folders")
    assert manifest.meta["patient_id_from_file_name"] == 1
    assert any("1 of 1 row(s)" in m and "image-level" in m for m in cxr_log.warnings())


def test_folders_layout_reports_non_images_and_empty_class_folders(tmp_path, cxr_log):
    _touch(tmp_path / "Normal" / "x.png")
    _touch(tmp_path / "COVID" / "y.png")
    for junk in ("Normal/.DS_Store", "Normal/Thumbs.db", "COVID/notes.txt", "README.md"):
        (tmp_path / junk).write_text("not an image")
    (tmp_path / "Pneumonia").mkdir()
    (tmp_path / "Empty").mkdir()
    (tmp_path / "Empty" / ".DS_Store").write_text("")
    manifest = build_manifest(tmp_path, "folders")
    assert manifest.classes == ["COVID", "Normal"] and len(manifest) == 2
    assert manifest.meta["skipped"]["count"] == 5
    assert set(manifest.meta["skipped"]["files"]) == {"README.md", "COVID/notes.txt", "Normal/.DS_Store",
                                                      "Normal/Thumbs.db", "Empty/.DS_Store"}
    assert manifest.meta["empty_class_folders"] == ["Empty", "Pneumonia"]
    warnings = "\n".join(cxr_log.warnings())
    assert "skipped 5 file(s)" in warnings and "Thumbs.db" in warnings
    assert str(tmp_path / "Pneumonia") in warnings and str(tmp_path / "Empty") in warnings
    manifest.write(tmp_path / "m.csv")
    assert read_manifest(tmp_path / "m.csv").meta["skipped"]["count"] == 5
    with pytest.raises(ValueError, match=r"Classes \['Pneumonia'\] were asked for but have no images"):
        build_manifest(tmp_path, "folders", classes=["COVID", "Normal", "Pneumonia"])
    with pytest.raises(ValueError, match=r"Classes \['Lost'\] were asked for"):
        load_any(tmp_path, classes=["COVID", "Lost", "Normal"])


def _covid19_cxr_tree(root, covid="COVID19", normal="NORMAL", pneumonia="PNEUMONIA", train="train", test="test"):
    _touch(root / train / covid / "covid-case-1.png")
    _touch(root / train / covid / "covid-case-2.png")
    _touch(root / train / normal / "IM-0115-0001.png")
    _touch(root / train / normal / "NORMAL2-IM-0115-0002.png")  # the same Kermany patient
    _touch(root / train / pneumonia / "person1_bacteria_1.png")
    _touch(root / train / pneumonia / "person1_virus_2.png")
    _touch(root / test / covid / "covid-case-9.png")
    _touch(root / test / normal / "IM-0200-0001.png")
    _touch(root / test / pneumonia / "person7_virus_13.png")


def test_covid19_cxr_layout_keeps_the_published_split(tmp_path, cxr_log):
    _covid19_cxr_tree(tmp_path / "COVID-19-CXR")
    manifest = build_manifest(tmp_path, "covid19_cxr")  # descends into the one wrapping folder
    assert manifest.classes == [L.COVID, L.NORMAL, L.PNEUMONIA] == list(L.THREE_CLASSES)
    assert manifest.counts(by_split=True) == {"train": {L.COVID: 2, L.NORMAL: 2, L.PNEUMONIA: 2},
                                              "test": {L.COVID: 1, L.NORMAL: 1, L.PNEUMONIA: 1}}
    by_name = {r["path"].split("/")[-1]: r for r in manifest.records}
    assert by_name["NORMAL2-IM-0115-0002.png"]["patient_id"] == by_name["IM-0115-0001.png"]["patient_id"] == "IM-0115"
    assert by_name["person1_virus_2.png"]["patient_id"] == "person1"
    assert by_name["covid-case-1.png"]["patient_id"] == "covid-case-1"  # no patient in the name: its own
    assert by_name["covid-case-9.png"]["split"] == "test" and by_name["covid-case-9.png"]["source"] == "covid19_cxr"
    assert manifest.meta["layout"] == "covid19_cxr" and manifest.meta["excluded"] == {}
    assert manifest.meta["patient_id_from_file_name"] == 3
    assert "skipped" not in manifest.meta
    assert any("differs from Zhong 2020's" in m for m in cxr_log.messages())  # 3 test images, not 740


@pytest.mark.parametrize("covid, train, test", [("COVID-19", "Train", "TEST"), ("covid19", "train", "test"),
                                                ("Covid_19", "TRAIN", "Test")])
def test_covid19_cxr_accepts_spelling_variants(tmp_path, covid, train, test):
    _covid19_cxr_tree(tmp_path, covid=covid, normal="Normal", pneumonia="pneumonia", train=train, test=test)
    manifest = build_manifest(tmp_path, "covid19_cxr")
    assert manifest.counts() == {L.COVID: 3, L.NORMAL: 3, L.PNEUMONIA: 3}
    assert {r["split"] for r in manifest.records} == {"train", "test"}


def test_covid19_cxr_counts_everything_it_does_not_read(tmp_path, cxr_log):
    _covid19_cxr_tree(tmp_path)
    _touch(tmp_path / "train" / "Tuberculosis" / "tb1.png")
    _touch(tmp_path / "train" / "Tuberculosis" / "tb2.png")
    (tmp_path / "train" / "NORMAL" / "Thumbs.db").write_text("junk")
    (tmp_path / "train" / "readme.txt").write_text("about")
    (tmp_path / "LICENSE").write_text("cc")
    manifest = build_manifest(tmp_path, "covid19_cxr")
    assert len(manifest) == 9
    assert manifest.meta["excluded"] == {"folder train/Tuberculosis/ is not COVID19, NORMAL or PNEUMONIA": 2}
    assert manifest.meta["skipped"]["count"] == 3
    assert set(manifest.meta["skipped"]["files"]) == {"train/NORMAL/Thumbs.db", "train/readme.txt", "LICENSE"}
    warnings = "\n".join(cxr_log.warnings())
    assert "Tuberculosis" in warnings and "Thumbs.db" in warnings
    with pytest.raises(ValueError, match="does not look like Zhong 2020's COVID-19-CXR"):
        build_manifest(tmp_path / "train" / "Tuberculosis", "covid19_cxr")


def test_kermany_refuses_a_covid19_folder_and_points_to_covid19_cxr(tmp_path):
    _covid19_cxr_tree(tmp_path / "chest_xray")
    with pytest.raises(ValueError, match=r"train/COVID19/.*--layout covid19_cxr"):
        build_manifest(tmp_path, "kermany")


def test_kermany_refuses_any_other_folder_and_reports_stray_files(tmp_path, cxr_log):
    root = tmp_path / "chest_xray"
    _touch(root / "train" / "NORMAL" / "IM-0001-0001.png")
    _touch(root / "test" / "Pneumonia" / "person3_bacteria_9.png")  # any case
    (root / "train" / ".DS_Store").write_text("")
    (root / "train" / "NORMAL" / "notes.txt").write_text("")
    _touch(root / "__MACOSX" / "train" / "NORMAL" / "._IM-0001-0001.png")
    manifest = build_manifest(tmp_path, "kermany")
    assert manifest.counts() == {L.BACTERIAL: 1, L.NORMAL: 1}
    assert set(manifest.meta["skipped"]["files"]) == {"train/.DS_Store", "train/NORMAL/notes.txt", "__MACOSX/"}
    _touch(root / "val" / "TUBERCULOSIS" / "x.png")
    with pytest.raises(ValueError, match=r"val/TUBERCULOSIS/ is not a class of Kermany's chest_xray"):
        build_manifest(tmp_path, "kermany")


def test_data_manifest_command_reads_covid19_cxr(tmp_path, capsys):
    from keras_cxr.cli import main
    from keras_cxr.cli.data_cmd import LAYOUTS as CLI_LAYOUTS
    from keras_cxr.data.sources import ADAPTERS, LAYOUTS

    assert list(CLI_LAYOUTS) == list(LAYOUTS) == list(ADAPTERS)
    _covid19_cxr_tree(tmp_path / "data")
    (tmp_path / "data" / "train" / "NORMAL" / "Thumbs.db").write_text("junk")
    _touch(tmp_path / "data" / "test" / "Other" / "x.png")
    assert main(["data", "manifest", str(tmp_path / "data"), "--layout", "covid19_cxr",
                 "--out", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "9 images" in out and "excluded 1: folder test/Other/" in out and "skipped 1 file(s)" in out
    manifest = read_manifest(tmp_path / "m.csv")
    assert manifest.classes == list(L.THREE_CLASSES) and {r["split"] for r in manifest.records} == {"train", "test"}
    _touch(tmp_path / "kermany" / "train" / "NORMAL" / "IM-0001-0001.png")
    _touch(tmp_path / "kermany" / "train" / "COVID-19" / "c.png")
    assert main(["data", "manifest", str(tmp_path / "kermany"), "--layout", "kermany",
                 "--out", str(tmp_path / "k.csv")]) == 2
    assert "--layout covid19_cxr" in capsys.readouterr().err
