"""Temperature scaling inside a graph: exported models output the calibrated probabilities.

``softmax(log(max(p, floor)) / T)`` after the classifier's softmax: the same
function as :func:`keras_cxr.uncertainty.temperature.apply_temperature`, so a
``.tflite`` or SavedModel export gives the probabilities ``predict`` and
``evaluate`` report for the run (Guo et al. 2017).
"""

import keras
from keras import ops

PROBABILITY_FLOOR = 1e-12  # keras_cxr.uncertainty.temperature.PROBABILITY_FLOOR (that module needs SciPy)


@keras.saving.register_keras_serializable(package="keras_cxr")
class TemperatureScaling(keras.layers.Layer):
    """Rescale softmax probabilities by a fixed temperature (no trainable weights)."""

    def __init__(self, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def call(self, probabilities):
        logits = ops.log(ops.maximum(probabilities, PROBABILITY_FLOOR))
        return ops.softmax(logits / self.temperature, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
