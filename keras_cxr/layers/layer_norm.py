"""Layer normalisation over the channel axis with a hand-written backward pass.

ConvNeXt normalises every position over its channels (Liu et al. 2022) about
20 times per image. Differentiated automatically, TensorFlow's layer norm
makes a dozen passes over the feature map; the closed-form gradient
``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))`` (g = upstream x
gamma) needs about half: 16x56x56x96 forward+backward 71 ms -> 43 ms on 2 CPU
threads (docs/BENCHMARKS.md, "ConvNeXt-T/AT vs PyTorch (timm) on the CPU"). Same weights, names, config and outputs as
``keras.layers.LayerNormalization``; the hand-written gradient is used only
for training steps on the TensorFlow backend (JAX's XLA fuses the automatic
one and Keras's PyTorch backend calls ``F.layer_norm``), all other cases run
the Keras layer unchanged.
"""

import keras
from keras import layers, ops


def _normalize_with_gradient(x, gamma, beta, epsilon):
    @ops.custom_gradient
    def normalize(x, gamma, beta):
        mean = ops.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        inv_std = ops.rsqrt(ops.mean(ops.square(centred), axis=-1, keepdims=True) + epsilon)
        x_hat = centred * inv_std

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            positions = tuple(range(len(x.shape) - 1))
            g = upstream * gamma
            dx = inv_std * (
                g - ops.mean(g, axis=-1, keepdims=True) - x_hat * ops.mean(g * x_hat, axis=-1, keepdims=True)
            )
            return dx, ops.sum(upstream * x_hat, axis=positions), ops.sum(upstream, axis=positions)

        return x_hat * gamma + beta, grad

    return normalize(x, gamma, beta)


@keras.saving.register_keras_serializable(package="keras_cxr")
class ChannelLayerNormalization(layers.LayerNormalization):
    """``keras.layers.LayerNormalization`` whose training steps use the closed-form gradient (last axis only)."""

    def call(self, inputs, training=None):
        if not training or not self._last_axis_only(inputs):
            return super().call(inputs)
        # Computed in at least float32, as Keras's layer norm does for half-precision training.
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        compute = "float32" if dtype in ("float16", "bfloat16") else dtype
        outputs = _normalize_with_gradient(
            ops.cast(inputs, compute), ops.cast(self.gamma, compute), ops.cast(self.beta, compute), self.epsilon
        )
        return ops.cast(outputs, self.compute_dtype)

    def _last_axis_only(self, inputs):
        rank = len(inputs.shape)
        axes = [a % rank for a in self.axis]
        return (
            keras.backend.backend() == "tensorflow"
            and axes == [rank - 1]
            and self.center
            and self.scale
            and not getattr(self, "rms_scaling", False)
        )
