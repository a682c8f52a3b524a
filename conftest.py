"""Shared pytest setup: quiet TensorFlow, CPU only, fixed seeds, a fresh Keras session per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as `import keras_cxr` sets it

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_file_scan_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_CXR_CACHE", str(tmp_path / ".keras_cxr_cache"))


_TESTS_PER_COLLECTION = 25
_tests_since_collection = 0


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Keras's global state reset after every test; Python's full garbage collection every 25 tests only.

    ``clear_session()`` collects garbage by default, which costs ~0.17 s after a test that built a model:
    over 600 tests, a minute of the suite. Names and graphs are reset each time all the same.
    """
    global _tests_since_collection
    import keras

    keras.utils.set_random_seed(0)
    yield
    _tests_since_collection += 1
    collect = _tests_since_collection >= _TESTS_PER_COLLECTION
    if collect:
        _tests_since_collection = 0
    try:
        keras.backend.clear_session(free_memory=collect)
    except TypeError:  # Keras releases before free_memory collect every time
        keras.backend.clear_session()
