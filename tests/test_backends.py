"""The models are backend-agnostic: the same weights give the same outputs under JAX as under TensorFlow."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_cxr.models import build_model

# One network per custom layer family: CBAM + LayerScale-free ConvNeXt, NL + FPN, SE + channel slicing, scale fusion.
MODELS = {"convnext_at": 32, "resnet50_fpn_attention": 64, "dpn92_se": 32, "covid_densenet": 32}

JAX_SCRIPT = r"""
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
assert keras.backend.backend() == "jax"
from keras_cxr.models import build_model
name, size, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
model = build_model(name, 3, input_shape=(size, size, 3))
model.load_weights(os.path.join(folder, "weights.weights.h5"))
np.save(os.path.join(folder, "jax.npy"), np.asarray(model.predict(np.load(os.path.join(folder, "x.npy")), verbose=0)))
"""


# The heaviest run with -m slow; the default suite keeps Li et al. 2023's ConvNeXt-AT under JAX.
SLOW_UNDER_JAX = ("dpn92_se", "covid_densenet", "resnet50_fpn_attention")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is installed by the dev extra")
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_UNDER_JAX else n
                                  for n in MODELS])
def test_same_outputs_under_jax(name, tmp_path):
    size = MODELS[name]
    model = build_model(name, 3, input_shape=(size, size, 3))
    x = np.random.default_rng(0).random((2, size, size, 3), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    model.save_weights(tmp_path / "weights.weights.h5")
    expected = model.predict(x, verbose=0)
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT, name, str(size), str(tmp_path)],
                            capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "jax.npy"), expected, atol=1e-4)
