"""Attention-weighted fusion of feature vectors from several scales.

Used by Covid-DenseNet, whose abstract describes "a multi-scale
fusion module" after per-scale attention: a small gate looks at all scales at
once and decides, per image, how much each scale contributes.
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class ScaleAttentionFusion(layers.Layer):
    """Fuse K vectors of width D into one: softmax(Dense_K(concat)) weighted sum.

    With ``keep_concat`` the output is ``[sum_k w_k f_k, f_1, ..., f_K]``, so the
    head sees both the gated mixture and every scale; otherwise the mixture alone.
    """

    def __init__(self, keep_concat=True, **kwargs):
        super().__init__(**kwargs)
        self.keep_concat = bool(keep_concat)

    def build(self, input_shape):
        self.num_scales = len(input_shape)
        width = int(input_shape[0][-1])
        if any(int(s[-1]) != width for s in input_shape):
            raise ValueError(f"ScaleAttentionFusion needs equal widths, got {[s[-1] for s in input_shape]}")
        self.gate = layers.Dense(self.num_scales, name="gate", dtype=self.dtype_policy)
        self.gate.build((None, width * self.num_scales))
        self.built = True

    def call(self, inputs):
        concat = ops.concatenate(inputs, axis=-1)
        weights = ops.softmax(self.gate(concat), axis=-1)  # (B, K)
        stacked = ops.stack(inputs, axis=1)  # (B, K, D)
        mixed = ops.sum(stacked * weights[:, :, None], axis=1)
        return ops.concatenate([mixed, concat], axis=-1) if self.keep_concat else mixed

    def compute_output_shape(self, input_shape):
        width = input_shape[0][-1]
        return (input_shape[0][0], width * (len(input_shape) + 1) if self.keep_concat else width)

    def compute_macs(self, input_shape):
        return 0

    def get_config(self):
        config = super().get_config()
        config.update(keep_concat=self.keep_concat)
        return config
