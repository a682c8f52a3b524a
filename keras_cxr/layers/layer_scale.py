"""Layer scale (Touvron et al. 2021): a learned per-channel residual gain.

Weight-compatible with ``keras.applications`` ConvNeXt's ``LayerScale``
(one ``gamma`` vector of shape ``(channels,)``).
"""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="keras_cxr")
class LayerScale(layers.Layer):
    """Multiply the input by a per-channel learned vector ``gamma``."""

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            name="gamma",
            shape=(int(input_shape[-1]),),
            initializer=keras.initializers.Constant(self.init_value),
            trainable=True,
        )
        self.built = True

    def call(self, inputs):
        return inputs * self.gamma

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(init_value=self.init_value)
        return config
