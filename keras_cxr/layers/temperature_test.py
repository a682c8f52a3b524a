import keras
import numpy as np
import pytest

from keras_cxr.uncertainty.temperature import apply_temperature
from keras_cxr.layers import TemperatureScaling


def test_layer_equals_the_numpy_function_and_survives_saving(tmp_path):
    probs = np.array([[0.7, 0.2, 0.1, 0.0], [0.01, 0.01, 0.97, 0.01]], np.float32)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, TemperatureScaling(2.5)(inputs))
    expected = apply_temperature(probs, 2.5)
    assert np.allclose(np.asarray(model(probs)), expected, atol=1e-6)
    model.save(tmp_path / "t.keras")
    restored = keras.saving.load_model(tmp_path / "t.keras")
    assert restored.layers[-1].temperature == 2.5
    assert np.allclose(np.asarray(restored(probs)), expected, atol=1e-6)


def test_temperature_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        TemperatureScaling(0.0)
