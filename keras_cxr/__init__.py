"""keras_cxr: chest X-ray classification with Keras 3.

The pipeline reads top to bottom: ``data`` -> ``models`` -> ``training`` ->
``evaluation`` -> ``explain`` -> ``export``. Sub-packages are imported on first
use so that ``import keras_cxr`` stays fast and does not import TensorFlow (the
TFLite edge path depends on that).
"""

import importlib
import os

# TensorFlow's oneDNN CPU kernels and graph fusions (MatMul+BiasAdd+GELU, ...). TensorFlow turns them on by
# default only on some Intel CPUs; on others (AMD EPYC, measured) ConvNeXt-T trains ~1.4x and infers ~1.3x
# faster with them (docs/BENCHMARKS.md, "ConvNeXt-T/AT vs PyTorch"). Read when TensorFlow loads, so it only
# takes effect when keras_cxr is imported first (the CLI always is); TF_ENABLE_ONEDNN_OPTS=0 opts out.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_SUBMODULES = ("data", "layers", "models", "training", "evaluation", "explain", "export", "predict", "benchmark", "cli")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'keras_cxr' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
