"""A ``Conv2D(groups=C)`` layer computed as a depthwise convolution.

ConvNeXt's 7x7 "depthwise" convolution is a ``Conv2D`` with ``groups`` equal
to its channels in ``keras.applications`` (kernel shape ``(7, 7, 1, C)``).
Under TensorFlow on the CPU a grouped convolution runs group by group and is
about 24x slower than the depthwise kernel it is mathematically equal to
(16x56x56x96: 699 ms vs 29 ms, 2 threads), which made the whole of
ConvNeXt-T 4x slower than PyTorch (docs/BENCHMARKS.md, "ConvNeXt-T/AT vs PyTorch (timm) on the CPU"). This layer keeps the ``Conv2D`` weight
layout, names, config and parameter count, so ImageNet weights and
``.keras`` files load unchanged, and runs ``keras.ops.depthwise_conv``.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class GroupedDepthwiseConv2D(layers.Conv2D):
    """``Conv2D(filters=C, groups=C)`` on ``C`` input channels, run as a depthwise convolution.

    Same arguments and weights as ``keras.layers.Conv2D``; ``build`` rejects
    any other grouping, where the two would not compute the same thing.
    """

    def build(self, input_shape):
        channel_axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[channel_axis]
        if not (self.groups == self.filters == channels):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs groups == filters == input channels; got "
                f"groups={self.groups}, filters={self.filters}, input channels={channels}"
            )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        # (kh, kw, 1, C) and (kh, kw, C, 1) hold the same numbers in the same order.
        kh, kw, _, channels = kernel.shape
        return ops.depthwise_conv(
            inputs,
            ops.reshape(kernel, (kh, kw, channels, 1)),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
        )
