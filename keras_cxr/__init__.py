"""keras_cxr: chest X-ray classification with Keras 3.

The pipeline reads top to bottom: ``data`` -> ``models`` -> ``training`` ->
``evaluation`` -> ``explain`` -> ``export``. Sub-packages are imported on first
use so that ``import keras_cxr`` stays fast and does not import TensorFlow (the
TFLite edge path depends on that).
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = ("data", "layers", "models", "training", "evaluation", "explain", "export", "predict", "cli")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'keras_cxr' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
