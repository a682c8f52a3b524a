import shutil

from keras_cxr.data import check_dataset, generate_dataset, split_manifest


def test_check_reports_bad_files_and_duplicates(tmp_path):
    manifest = split_manifest(generate_dataset(tmp_path / "d", per_class=4, size=48, seed=0), val=0.5, seed=0)
    records = manifest.records
    train = next(r for r in records if r["split"] == "train")
    val = next(r for r in records if r["split"] == "val" and r["label"] == train["label"])
    shutil.copy(manifest.resolve(train), manifest.resolve(val))  # leakage across splits
    # A copy inside one split, of another image (one group holding both splits would count as leakage).
    twins = next([a, b] for a in records for b in records if a["split"] == b["split"] == "train"
                 and a["label"] == b["label"] != train["label"] and a is not b)
    shutil.copy(manifest.resolve(twins[0]), manifest.resolve(twins[1]))
    empty = next(r for r in reversed(records) if not any(r is other for other in [train, val] + twins))
    manifest.resolve(empty).write_bytes(b"")
    manifest.write(tmp_path / "d" / "split.csv")
    report = check_dataset(tmp_path / "d" / "split.csv")
    assert not report.ok
    assert report.num_files == 16
    assert report.bad == [(str(manifest.resolve(empty)), "empty file (0 bytes)")]
    leaked = [r for r in records if r is train or r is val]  # in manifest order
    assert report.duplicates_across == [[f"{manifest.resolve(r)} [{r['split']}]" for r in leaked]]
    assert report.duplicates_within == [[f"{manifest.resolve(r)} [train]" for r in twins]]
    text = report.to_text()
    assert "ACROSS splits" in text and "empty file" in text and "8-bit" in text and "48x48" in text
    assert "duplicate images within a split: 1 group(s)" in text
    assert f"  {manifest.resolve(twins[0])} [train] == {manifest.resolve(twins[1])} [train]" in text.splitlines()


def test_check_of_a_clean_folder(tmp_path):
    generate_dataset(tmp_path, per_class=2, size=32, seed=1)
    report = check_dataset(tmp_path)
    assert report.ok and report.num_files == 8 and report.bit_depths == {8: 8}


def test_check_lists_what_the_folders_layout_skipped(tmp_path):
    generate_dataset(tmp_path, per_class=1, size=32, seed=1, classes=["Normal", "COVID-19"])
    shutil.rmtree(tmp_path / "masks")
    (tmp_path / "manifest.csv").unlink()
    (tmp_path / "images" / "Normal" / "Thumbs.db").write_bytes(b"\0")
    (tmp_path / "images" / "Viral_Pneumonia").mkdir()
    report = check_dataset(tmp_path / "images")
    assert report.ok and report.num_files == 2
    text = report.to_text()
    assert "skipped 1 file(s)" in text and "Normal/Thumbs.db" in text
    assert "without images: Viral_Pneumonia" in text and "file name as patient id" in text


def test_check_reports_files_listed_on_several_rows(tmp_path):
    generate_dataset(tmp_path, per_class=1, size=32, seed=1, classes=["Normal", "COVID-19"])
    csv = tmp_path / "manifest.csv"
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join(lines + [lines[1]]) + "\n")
    report = check_dataset(csv)
    assert not report.ok and report.num_files == 3 and report.duplicates_within == []
    assert "files listed on more than one manifest row: 1" in report.to_text()
    assert report.repeated_rows == {lines[1].split(",")[0]: [2, 4]}
