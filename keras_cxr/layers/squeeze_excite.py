"""Squeeze-and-Excitation (Hu et al., CVPR 2018).

Global average pool -> FC -> ReLU -> FC -> sigmoid -> channel re-weighting;
DPN-SE (Cheng et al. (DPN-SENet)) adds it to every dual-path block.
"""

import keras
from keras import layers, ops

from keras_cxr.layers.bottleneck import bottleneck_width


@keras.saving.register_keras_serializable(package="keras_cxr")
class SqueezeExcite(layers.Layer):
    """Channel attention; output shape equals input shape.

    Args:
        reduction: bottleneck ratio of the two fully connected layers (16).
        min_channels: lower bound on the bottleneck width.
    """

    accepts_reduction = True

    def __init__(self, reduction=16, min_channels=8, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)
        self.min_channels = int(min_channels)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = bottleneck_width(channels, self.reduction, self.min_channels)
        self.fc1 = layers.Dense(hidden, activation="relu", name="fc1", dtype=self.dtype_policy)
        self.fc2 = layers.Dense(channels, activation="sigmoid", name="fc2", dtype=self.dtype_policy)
        self.fc1.build((None, channels))
        self.fc2.build((None, hidden))
        self.built = True

    def call(self, inputs):
        weights = self.fc2(self.fc1(ops.mean(inputs, axis=(1, 2))))
        return inputs * weights[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_macs(self, input_shape):
        h, w, c = (int(d) for d in input_shape[-3:])
        hidden = bottleneck_width(c, self.reduction, self.min_channels)
        return 2 * c * hidden + h * w * c

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction, min_channels=self.min_channels)
        return config
