"""A ``Dense`` layer applied at every position of a feature map, as one 2-D matrix product.

ConvNeXt's "pointwise convolutions" are ``Dense`` layers on ``(N, H, W, C)``
maps in ``keras.applications``, followed by a separate GELU layer. Computing
product, bias and activation on the positions flattened to one
``(N*H*W, C)`` matrix lets TensorFlow's CPU graph rewrite (oneDNN) fuse the
three into one kernel: ConvNeXt-T's 4x-wide GELU maps, its largest tensors,
are then never written out un-activated (docs/BENCHMARKS.md, "ConvNeXt-T/AT vs PyTorch (timm) on the CPU"). Weights, names and config
are those of ``Dense``, so ``keras.applications`` weights load unchanged.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class PointwiseDense(layers.Dense):
    """``keras.layers.Dense`` (activation included) over the last axis of any-rank input, as a 2-D product."""

    def call(self, inputs, training=None):
        if len(inputs.shape) <= 2:
            return super().call(inputs, training=training)
        leading = tuple(inputs.shape[1:-1])
        if any(d is None for d in leading):
            leading = tuple(ops.shape(inputs)[1:-1])
        outputs = super().call(ops.reshape(inputs, (-1, inputs.shape[-1])), training=training)
        return ops.reshape(outputs, (-1, *leading, self.units))
