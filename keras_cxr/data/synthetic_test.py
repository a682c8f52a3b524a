import numpy as np
import pytest
from PIL import Image

from keras_cxr.data import generate_dataset, labels as L, synthetic_cxr
from keras_cxr.data.synthetic import CLASSES


def test_generator_is_deterministic_for_a_seed(tmp_path):
    a = generate_dataset(tmp_path / "a", per_class=3, size=64, seed=5)
    b = generate_dataset(tmp_path / "b", per_class=3, size=64, seed=5)
    c = generate_dataset(tmp_path / "c", per_class=3, size=64, seed=6)
    for ra, rb, rc in zip(a.records, b.records, c.records):
        assert a.resolve(ra).read_bytes() == b.resolve(rb).read_bytes()
    assert any(a.resolve(ra).read_bytes() != c.resolve(rc).read_bytes() for ra, rc in zip(a.records, c.records))


def test_layout_masks_and_patients(tmp_path):
    manifest = generate_dataset(tmp_path, per_class=7, size=64, seed=0)
    assert manifest.counts() == {c: 7 for c in CLASSES}
    assert (tmp_path / "manifest.csv").is_file() and (tmp_path / "manifest.json").is_file()
    patients = {}
    for record in manifest.records:
        image = manifest.resolve(record)
        mask = manifest.resolve(record["mask_path"])
        assert image.parent.parent.name == "images" and mask.parent.parent.name == "masks"
        assert image.name == mask.name
        patients.setdefault(record["patient_id"], []).append(record)
        mask_pixels = np.asarray(Image.open(mask))
        assert (mask_pixels.max() > 0) == (record["label"] != L.NORMAL)
    assert max(len(v) for v in patients.values()) >= 2  # several images per patient


@pytest.mark.parametrize("label", CLASSES)
def test_findings_vary_and_sit_inside_the_chest(label):
    images = [synthetic_cxr(label, size=96, seed=s) for s in range(3)]
    assert not np.allclose(images[0][0], images[1][0])
    for image, mask in images:
        assert image.dtype == np.float32 and 0 <= image.min() and image.max() <= 1
        if label != L.NORMAL:
            assert 0.002 < mask.mean() < 0.3
            rows, cols = np.nonzero(mask)
            assert 0.1 < rows.mean() / 96 < 0.9 and 0.1 < cols.mean() / 96 < 0.9


def test_covid_opacities_are_bilateral_and_lower_zone():
    _, mask = synthetic_cxr(L.COVID, size=128, seed=11)
    assert mask[:, :64].any() and mask[:, 64:].any()
    rows = np.nonzero(mask)[0]
    assert rows.mean() > 0.45 * 128


def test_bacterial_consolidation_is_one_sided():
    for seed in range(5):
        _, mask = synthetic_cxr(L.BACTERIAL, size=128, seed=seed)
        assert mask[:, :64].any() != mask[:, 64:].any()


def test_a_relative_out_dir_gives_a_manifest_that_finds_its_files(tmp_path, monkeypatch):
    from keras_cxr.data import read_manifest

    monkeypatch.chdir(tmp_path)
    manifest = generate_dataset("rel", per_class=1, size=32, seed=0)
    back = read_manifest("rel/manifest.csv")
    assert all(manifest.resolve(r).is_file() for r in manifest.records)
    assert all(back.resolve(r).is_file() and back.resolve(r["mask_path"]).is_file() for r in back.records)


def test_planted_shortcut_marks_the_chosen_class_and_the_manifest_says_which(tmp_path):
    from keras_cxr.audit import confounding_table
    from keras_cxr.data import read_manifest

    manifest = generate_dataset(tmp_path / "d", per_class=10, size=64, seed=0, shortcut=L.COVID, shortcut_share=0.9)
    rows = read_manifest(tmp_path / "d" / "manifest.csv").records
    for row in rows:
        corner = np.asarray(Image.open(manifest.resolve(row)))[3, 3]
        assert (corner > 200) == (row["marker"] == "yes"), row["path"]
    covid = [r["marker"] == "yes" for r in rows if r["label"] == L.COVID]
    others = [r["marker"] == "yes" for r in rows if r["label"] != L.COVID]
    assert sum(covid) >= 7 and sum(others) <= 6  # 9 of 10 and 3 of 30 expected
    table = confounding_table([r["label"] for r in rows], [r["marker"] for r in rows], "marker")
    assert table["confounded"]
    plain = generate_dataset(tmp_path / "p", per_class=2, size=64, seed=0)
    assert "marker" not in plain.records[0]
    with pytest.raises(ValueError, match="Tuberculosis"):
        generate_dataset(tmp_path / "x", per_class=1, size=64, shortcut="Tuberculosis")
