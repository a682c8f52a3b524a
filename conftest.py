"""Shared pytest setup: quiet TensorFlow, CPU only, fixed seeds, a fresh Keras session per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as `import keras_cxr` sets it

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_file_scan_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_CXR_CACHE", str(tmp_path / ".keras_cxr_cache"))


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()
