"""The pipeline benchmark on its own synthetic source leaves nothing behind in the temp folder."""

import tempfile

from keras_cxr.benchmark.pipeline_speed import measure_pipeline_on


def test_synthetic_source_is_measured_then_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = measure_pipeline_on(image_size=32, batch_size=4, augment="none", per_class=1, source_size=64)
    assert result["images"] == 4 and result["source"] == "synthetic 64x64 PNG"
    assert result["cold_images_per_second"] > 0 and result["cached_images_per_second"] > 0
    assert list(tmp_path.glob("keras_cxr_bench_*")) == []  # (autograph writes its own .py files here)
