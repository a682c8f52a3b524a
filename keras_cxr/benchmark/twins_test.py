"""The timm comparison's bookkeeping, without PyTorch (CI has none): twins, ratios, table, errors."""

import sys

import numpy as np
import pytest

from keras_cxr.benchmark import twins
from keras_cxr.models import list_models


def test_every_twin_is_a_registered_model():
    assert set(twins.TIMM_TWINS) <= set(list_models())
    # The networks the papers compare, each against its PyTorch reference.
    assert {"convnext_at", "dpn92_se", "dpn92", "resnet50", "densenet121", "inception_v3"} <= set(twins.TIMM_TWINS)


def _fake_twin(rates):
    """A twin whose layouts take the given seconds per step (so the expected ratio is known)."""
    import time

    def factory(timm_name, num_classes, size, batch, threads, layouts):
        def step(seconds):
            return lambda: time.sleep(seconds) or np.zeros(batch)

        return {layout: {mode: step(rates[layout]) for mode in ("infer", "train")} for layout in layouts}, 123

    return factory


def test_ratio_is_against_the_faster_twin_layout():
    # A tiny keras model takes well under 20 ms a step at 32 px; the faster fake layout takes 0.2 s.
    row = twins.compare_model("resnet18", modes=("infer",), batch_size=2, image_size=32, windows=1,
                              twin_factory=_fake_twin({"contiguous": 0.4, "channels_last": 0.2}))
    assert row["model"] == "resnet18" and row["twin"] == "timm resnet18" and row["twin_params"] == 123
    assert row["infer_twin_layout"] == "channels_last"
    assert row["infer_twin_images_per_second"] == pytest.approx(2 / 0.2, rel=0.3)
    assert row["infer_ratio"] == pytest.approx(row["infer_images_per_second"] / row["infer_twin_images_per_second"])
    assert row["infer_ratio"] > 1 and "train_ratio" not in row


def test_table_names_the_twin_layout_and_ratio():
    row = {"model": "convnext_at", "twin": "timm convnext_tiny", "adds": "CBAM", "params": 28.6e6,
           "twin_params": 27.8e6, "infer_images_per_second": 15.0, "infer_twin_images_per_second": 12.0,
           "infer_twin_layout": "channels_last", "infer_ratio": 1.25}
    table = twins.format_twin_table([row], modes=("infer",))
    assert "| convnext_at | convnext_tiny (CBAM) | 28.60 M / 27.80 M | 15.00 | 12.00 (cl) | **1.25x** |" in table


def test_unknown_model_and_missing_libraries_fail_clearly(monkeypatch):
    with pytest.raises(ValueError, match="No timm twin for \\['vgg80_multibranch'\\]"):
        twins.compare_with_timm(["vgg80_multibranch"])
    monkeypatch.setitem(sys.modules, "timm", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(twins.MissingTwinLibraries, match="pip install torch torchvision timm"):
        twins.import_timm()


def test_bench_against_timm_without_pytorch_says_what_to_install(monkeypatch, capsys):
    from keras_cxr.cli import main

    monkeypatch.setitem(sys.modules, "timm", None)
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["bench", "--against", "timm", "--models", "resnet18"]) == 2
    assert "pip install torch torchvision timm" in capsys.readouterr().err


def test_pytorch_imported_after_tensorflow_is_refused_before_it_crashes(monkeypatch):
    import tensorflow  # noqa: F401  (the state the check guards against)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(twins.importlib.util, "find_spec", lambda name: object())
    with pytest.raises(twins.MissingTwinLibraries, match="imported before TensorFlow"):
        twins.import_timm()
