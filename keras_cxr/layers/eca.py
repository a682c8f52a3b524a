"""ECA: Efficient Channel Attention (Wang et al., CVPR 2020).

Channel attention without dimensionality reduction: a 1-D convolution across the
globally pooled channel descriptor, with a kernel size that adapts to the
channel count (k = |log2(C)/gamma + b/gamma|, made odd).
"""

import math

import keras
from keras import layers, ops


def eca_kernel_size(channels, gamma=2, beta=1):
    """The paper's adaptive kernel size for ``channels`` channels."""
    k = int(abs((math.log2(channels) + beta) / gamma))
    return k if k % 2 else k + 1


@keras.saving.register_keras_serializable(package="keras_cxr")
class ECA(layers.Layer):
    """Efficient channel attention; output shape equals input shape.

    Args:
        kernel_size: 1-D kernel size, or ``None`` for the adaptive rule.
        gamma, beta: constants of the adaptive rule (2, 1).
    """

    def __init__(self, kernel_size=None, gamma=2, beta=1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        self.gamma = gamma
        self.beta = beta

    def _kernel(self, channels):
        return self.kernel_size or eca_kernel_size(channels, self.gamma, self.beta)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.conv = layers.Conv1D(
            1, self._kernel(channels), padding="same", use_bias=False, name="conv", dtype=self.dtype_policy
        )
        self.conv.build((None, channels, 1))
        self.built = True

    def call(self, inputs):
        pooled = ops.mean(inputs, axis=(1, 2))[:, :, None]
        weights = ops.sigmoid(self.conv(pooled))[:, :, 0]
        return inputs * weights[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_macs(self, input_shape):
        h, w, c = (int(d) for d in input_shape[-3:])
        return c * self._kernel(c) + h * w * c

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=self.kernel_size, gamma=self.gamma, beta=self.beta)
        return config
