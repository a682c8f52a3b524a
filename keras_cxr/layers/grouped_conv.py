"""A ``Conv2D(groups=G)`` layer computed as ``G`` ordinary convolutions.

Dual Path Networks (Chen et al. 2017) and DPN-SE (Cheng et al. (DPN-SENet))
use a grouped 3x3 convolution (32 or 40 groups) in every block. Keras's
TensorFlow backend sends every grouped convolution through an XLA-compiled
function (TensorFlow's own CPU kernel has no grouped gradient without oneDNN),
and XLA on the CPU runs it slowly and its gradient very slowly: at DPN-92's
56x56x96 block, 217 ms forward and 28 s forward+backward for a batch of 16,
against 22 ms and 58 ms for the per-group form below (2 threads).

Under TensorFlow this layer splits the input and kernel into their groups,
runs one plain convolution per group and concatenates: each output is the
same sum, so it equals ``Conv2D(groups=G)`` up to float round-off. Forward +
backward, the per-group form beat the depthwise-expanded (channel multiplier
= group width, then a sum), block-diagonal dense, shifted-matmul and
patch-matmul forms at every DPN-92 shape measured (widths 96-768, spatial
56-7, stride 1 and 2), so there is no per-shape rule. TensorFlow's native
grouped kernel (oneDNN) is faster per op but only 2-4% on the whole of
DPN-92, and has no gradient when oneDNN is off, so it is not called. JAX and
torch have fast native grouped kernels: other backends keep ``Conv2D``'s op.
Weights, names, config and parameter count are those of
``keras.layers.Conv2D``, so weights and ``.keras`` files load unchanged.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class GroupedConv2D(layers.Conv2D):
    """``Conv2D`` with ``groups > 1`` and more than one input channel per group, run group by group.

    Same arguments and weights as ``keras.layers.Conv2D``. ``build`` rejects
    ``groups=1`` (use ``Conv2D``) and one input channel per group (a
    depthwise convolution: use ``GroupedDepthwiseConv2D`` or
    ``DepthwiseConv2D``, whose kernels are far faster than ``groups`` tiny
    convolutions).
    """

    def build(self, input_shape):
        channel_axis = -1 if self.data_format == "channels_last" else 1
        channels = input_shape[channel_axis]
        if self.groups < 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs groups >= 2; got groups={self.groups} "
                "(use keras.layers.Conv2D)"
            )
        if channels is not None and channels == self.groups:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs at least 2 input channels per group; got "
                f"groups={self.groups} on {channels} input channels (a depthwise convolution: use "
                "GroupedDepthwiseConv2D or keras.layers.DepthwiseConv2D)"
            )
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        if keras.backend.backend() != "tensorflow":
            return super().convolution_op(inputs, kernel)
        channel_axis = -1 if self.data_format == "channels_last" else 1
        # Kernel (kh, kw, C/G, F): output channels g*F/G ... (g+1)*F/G - 1 belong to group g.
        outputs = [
            ops.conv(
                x,
                k,
                strides=self.strides,
                padding=self.padding,
                dilation_rate=self.dilation_rate,
                data_format=self.data_format,
            )
            for x, k in zip(ops.split(inputs, self.groups, axis=channel_axis), ops.split(kernel, self.groups, axis=-1))
        ]
        return ops.concatenate(outputs, axis=channel_axis)
