import numpy as np

from keras_cxr.data import PreprocessOptions, generate_dataset, preprocess_folder, read_image, read_manifest
from keras_cxr.data.transforms import estimate_noise


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
    before = [estimate_noise(read_image(p)) for p in sorted((tmp_path / "src" / "images").rglob("*.png"))]
    after = [estimate_noise(read_image(p)) for p in sorted((tmp_path / "dst" / "images").rglob("*.png"))]
    assert np.mean(after) < np.mean(before)
