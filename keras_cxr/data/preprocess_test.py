import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from skimage.restoration import estimate_sigma

from keras_cxr.data import PreprocessOptions, generate_dataset, preprocess_folder, read_image, read_manifest


def test_preprocess_keeps_structure_resumes_and_reports(tmp_path):
    src = tmp_path / "src"
    generate_dataset(src, per_class=2, size=96, seed=0)
    (src / "images" / "Normal" / "broken.png").write_bytes(b"")
    options = PreprocessOptions(denoise="tv", anscombe=True, size=48)
    first = preprocess_folder(src, tmp_path / "dst", options, workers=2, progress=False)
    assert first["processed"] == 8 and len(first["errors"]) == 1
    outputs = sorted((tmp_path / "dst" / "images").rglob("*.png"))
    assert len(outputs) == 8 and all(read_image(p).shape == (48, 48) for p in outputs)
    assert not (tmp_path / "dst" / "masks").exists()
    second = preprocess_folder(src, tmp_path / "dst", options, workers=1, progress=False)
    assert second["processed"] == 0 and second["skipped"] == 8
    manifest = read_manifest(tmp_path / "dst" / "manifest.csv")
    assert all(manifest.resolve(r).is_file() for r in manifest.records)
    assert all(manifest.resolve(r["mask_path"]).is_file() for r in manifest.records)


def test_denoising_lowers_noise_on_files(tmp_path):
    generate_dataset(tmp_path / "src", per_class=1, size=128, seed=2)
    preprocess_folder(tmp_path / "src", tmp_path / "dst", PreprocessOptions(denoise="tv"), workers=1, progress=False)
    before = [estimate_sigma(read_image(p)) for p in sorted((tmp_path / "src" / "images").rglob("*.png"))]
    after = [estimate_sigma(read_image(p)) for p in sorted((tmp_path / "dst" / "images").rglob("*.png"))]
    assert np.mean(after) < np.mean(before)


def _sizes(folder):
    return {read_image(p).shape for p in folder.rglob("*.png")}


def test_other_settings_refuse_to_resume_unless_overwrite(tmp_path):
    generate_dataset(tmp_path / "src", per_class=1, size=64, seed=0)
    dst = tmp_path / "dst"
    preprocess_folder(tmp_path / "src", dst, PreprocessOptions(size=48), workers=1, progress=False)
    assert json.loads((dst / "preprocess.json").read_text())["options"]["size"] == 48
    with pytest.raises(ValueError, match=r"other settings \(clahe: False -> True; size: 48 -> 32;") as error:
        preprocess_folder(tmp_path / "src", dst, PreprocessOptions(size=32, clahe=True), workers=1, progress=False)
    assert "--overwrite" in str(error.value) and _sizes(dst / "images") == {(48, 48)}
    again = preprocess_folder(tmp_path / "src", dst, PreprocessOptions(size=32, clahe=True), workers=1,
                              progress=False, overwrite=True)
    assert again["processed"] == 4 and again["skipped"] == 0 and _sizes(dst / "images") == {(32, 32)}
    assert json.loads((dst / "preprocess.json").read_text())["options"]["clahe"] is True
    same = preprocess_folder(tmp_path / "src", dst, PreprocessOptions(size=32, clahe=True), workers=1, progress=False)
    assert same["skipped"] == 4


def test_pngs_of_unknown_settings_are_not_resumed(tmp_path):
    generate_dataset(tmp_path / "src", per_class=1, size=32, seed=0)
    (tmp_path / "dst" / "images").mkdir(parents=True)
    shutil.copy(next((tmp_path / "src" / "images").rglob("*.png")), tmp_path / "dst" / "images" / "old.png")
    with pytest.raises(ValueError, match="no preprocess.json"):
        preprocess_folder(tmp_path / "src", tmp_path / "dst", PreprocessOptions(size=16), workers=1, progress=False)


def test_a_killed_write_leaves_no_image_at_an_output_path(tmp_path, monkeypatch):
    from PIL import Image

    generate_dataset(tmp_path / "src", per_class=1, size=32, seed=0)
    real_save = Image.Image.save

    def killed(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        Path(fp).write_bytes(Path(fp).read_bytes()[:20])  # half a file, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        preprocess_folder(tmp_path / "src", tmp_path / "dst", PreprocessOptions(size=16), workers=1, progress=False)
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert [p for p in (tmp_path / "dst").rglob("*") if p.is_file()] == [tmp_path / "dst" / "preprocess.json"]
    left = tmp_path / "dst" / "images" / "Normal" / ".x.png.999.partial"  # what a SIGKILL would leave
    left.write_bytes(b"\x89PNG")
    result = preprocess_folder(tmp_path / "src", tmp_path / "dst", PreprocessOptions(size=16), workers=1,
                               progress=False)
    assert result["processed"] == 4 and not left.exists() and _sizes(tmp_path / "dst" / "images") == {(16, 16)}
