"""GC block: Global Context Network (Cao et al., ICCV Workshops 2019).

Context modelling (a 1x1 convolution + softmax over positions pools one global
context vector), a bottleneck transform (1x1 conv -> LayerNorm -> ReLU -> 1x1
conv) and fusion by addition to every position: spatial, then channel.
"""

import keras
from keras import layers, ops

from keras_cxr.layers.bottleneck import bottleneck_width


@keras.saving.register_keras_serializable(package="keras_cxr")
class GlobalContext(layers.Layer):
    """Global-context attention; output shape equals input shape.

    Args:
        reduction: bottleneck ratio of the transform (paper: 16).
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
        self.context_mask = layers.Dense(1, name="context_mask", dtype=self.dtype_policy)
        self.transform_fc1 = layers.Dense(hidden, name="transform_fc1", dtype=self.dtype_policy)
        self.transform_norm = layers.LayerNormalization(epsilon=1e-5, name="transform_norm", dtype=self.dtype_policy)
        self.transform_fc2 = layers.Dense(
            channels, kernel_initializer="zeros", name="transform_fc2", dtype=self.dtype_policy
        )
        self.context_mask.build((None, channels))
        self.transform_fc1.build((None, channels))
        self.transform_norm.build((None, hidden))
        self.transform_fc2.build((None, hidden))
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        flat = ops.reshape(inputs, (shape[0], shape[1] * shape[2], shape[3]))
        attention = ops.softmax(self.context_mask(flat), axis=1)  # (B, HW, 1)
        context = ops.sum(flat * attention, axis=1)  # (B, C)
        delta = self.transform_fc2(ops.relu(self.transform_norm(self.transform_fc1(context))))
        return inputs + delta[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_macs(self, input_shape):
        h, w, c = (int(d) for d in input_shape[-3:])
        hidden = bottleneck_width(c, self.reduction, self.min_channels)
        return 2 * h * w * c + 2 * c * hidden + h * w * c

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction, min_channels=self.min_channels)
        return config
