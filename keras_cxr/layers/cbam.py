"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018).

Channel attention from average- and max-pooled descriptors through a shared MLP,
then spatial attention from the channel-wise mean and max maps through a 7x7
convolution. ConvNeXt-AT (Li et al. 2023 (ConvNeXt-AT), section 2.3) inserts it in ConvNeXt blocks.
"""

import keras
from keras import layers, ops

from keras_cxr.layers.bottleneck import bottleneck_width


@keras.saving.register_keras_serializable(package="keras_cxr")
class CBAM(layers.Layer):
    """Channel-then-spatial attention; output shape equals input shape.

    Args:
        reduction: channel reduction ratio of the shared MLP (paper: 16).
        spatial_kernel_size: kernel of the spatial-attention convolution (7).
        min_channels: lower bound on the MLP's hidden width.
    """

    accepts_reduction = True

    def __init__(self, reduction=16, spatial_kernel_size=7, min_channels=8, **kwargs):
        super().__init__(**kwargs)
        self.reduction = int(reduction)
        self.spatial_kernel_size = int(spatial_kernel_size)
        self.min_channels = int(min_channels)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = bottleneck_width(channels, self.reduction, self.min_channels)
        self.mlp_fc1 = layers.Dense(hidden, activation="relu", name="mlp_fc1", dtype=self.dtype_policy)
        self.mlp_fc2 = layers.Dense(channels, name="mlp_fc2", dtype=self.dtype_policy)
        self.spatial_conv = layers.Conv2D(
            1, self.spatial_kernel_size, padding="same", name="spatial_conv", dtype=self.dtype_policy
        )
        self.mlp_fc1.build((None, channels))
        self.mlp_fc2.build((None, hidden))
        self.spatial_conv.build((None, None, None, 2))
        self.built = True

    def call(self, inputs):
        avg = ops.mean(inputs, axis=(1, 2))
        mx = ops.max(inputs, axis=(1, 2))
        channel_logits = self.mlp_fc2(self.mlp_fc1(avg)) + self.mlp_fc2(self.mlp_fc1(mx))
        x = inputs * ops.sigmoid(channel_logits)[:, None, None, :]
        pooled = ops.concatenate(
            [ops.mean(x, axis=-1, keepdims=True), ops.max(x, axis=-1, keepdims=True)], axis=-1
        )
        return x * ops.sigmoid(self.spatial_conv(pooled))

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_macs(self, input_shape):
        """Multiply-accumulates for one image (used by ``models.profile``)."""
        h, w, c = (int(d) for d in input_shape[-3:])
        hidden = bottleneck_width(c, self.reduction, self.min_channels)
        mlp = 2 * (c * hidden + hidden * c)
        spatial = h * w * self.spatial_kernel_size**2 * 2
        rescale = 2 * h * w * c
        return mlp + spatial + rescale

    def get_config(self):
        config = super().get_config()
        config.update(
            reduction=self.reduction,
            spatial_kernel_size=self.spatial_kernel_size,
            min_channels=self.min_channels,
        )
        return config
