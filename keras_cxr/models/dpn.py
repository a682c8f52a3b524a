"""Dual Path Networks (Chen et al. 2017) and DPN-SE (Cheng et al. (DPN-SENet)).

A dual-path block runs BN-ReLU-conv units 1x1 -> grouped 3x3 -> 1x1 and splits
the result into a residual part (added, as in ResNeXt) and a dense part
(concatenated, as in DenseNet). Settings follow the common public
implementations (the authors' MXNet code, cypw/DPNs, and its PyTorch ports:
Cadene's pretrainedmodels ``dpn.py``, timm ``dpn.py``): DPN-92 has a 64-filter
7x7/2 stem, k_R = 96, 32 groups, (3, 4, 20, 3) blocks and dense increments
(16, 32, 24, 128). Parameter counts match the reference: DPN-92 37.67 M
trainable with a 1000-class head.

Head: after the last block the two paths are concatenated, batch-normalised
and activated ("CatBnAct", ``conv5_bn_ac``), then globally average-pooled and
classified (a 1x1 convolution on the pooled vector there, a Dense layer here;
the same function), with the softmax in the last layer here and in the loss
there. The final activation is ReLU in the authors' MXNet code
(``conv5_x_x__relu-sp``) and in Cadene's and Wightman's pytorch-dpn-pretrained
ports, whose ImageNet weights all come from it; timm alone switches it to ELU
(``fc_act_layer='elu'``). ``final_activation="relu"`` is the default here,
``"elu"`` reproduces timm's head.

DPN-SE (Cheng et al. (DPN-SENet)) adds squeeze-and-excitation
to every dual-path block. The paper does not say where inside the block; here
SE re-weights the output of the last 1x1 unit before it is split, so both the
residual and the dense path are recalibrated (the position SE-ResNeXt uses,
before the residual add).

The grouped 3x3 convolution is a ``GroupedConv2D``: ``Conv2D(groups=...)``'s
weights, names and config, computed group by group under TensorFlow, where
Keras would compile it with XLA, slow on the CPU (DPN-92, batch 16, 2
threads: inference 1.7x faster, a training step about 400 s -> 12 s).
"""

import keras
from keras import layers

from keras_cxr.layers import ChannelSlice, GroupedConv2D, get_attention
from keras_cxr.layers.factory import validate_attention
from keras_cxr.models.heads import pooled_classifier
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model

BN_EPSILON = 1e-3
NO_IMAGENET = ("keras.applications has no DPN; Cheng et al. (DPN-SENet)'s recipe trains every network from "
               "scratch")

# name: (small, stem filters, k_r, groups, blocks per stage, dense increments)
DPN_CONFIGS = {
    "dpn68": dict(small=True, stem=10, k_r=128, groups=32, k_sec=(3, 4, 12, 3), inc_sec=(16, 32, 32, 64)),
    "dpn92": dict(small=False, stem=64, k_r=96, groups=32, k_sec=(3, 4, 20, 3), inc_sec=(16, 32, 24, 128)),
    "dpn131": dict(small=False, stem=128, k_r=160, groups=40, k_sec=(4, 8, 28, 3), inc_sec=(16, 32, 32, 128)),
}


def bn_act_conv(x, filters, kernel_size, strides=1, groups=1, name=None):
    """Pre-activation unit: BatchNorm -> ReLU -> convolution (no bias); grouped ones as ``GroupedConv2D``."""
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    conv = GroupedConv2D if groups > 1 else layers.Conv2D
    return conv(
        filters, kernel_size, strides=strides, padding="same", groups=groups, use_bias=False, name=f"{name}_conv"
    )(x)


def dual_path_block(x, num_1x1_a, num_3x3_b, num_1x1_c, inc, groups, block_type, name, attention=None,
                    attention_reduction=16):
    """One dual-path block; ``x`` is a tensor (first block) or a (residual, dense) pair."""
    x_in = layers.Concatenate(name=f"{name}_input")(list(x)) if isinstance(x, tuple) else x
    strides = 2 if block_type == "down" else 1
    if block_type in ("proj", "down"):
        projected = bn_act_conv(x_in, num_1x1_c + 2 * inc, 1, strides, name=f"{name}_c1x1_w")
        residual = ChannelSlice(0, num_1x1_c, name=f"{name}_w_residual")(projected)
        dense = ChannelSlice(num_1x1_c, None, name=f"{name}_w_dense")(projected)
    else:
        residual, dense = x
    h = bn_act_conv(x_in, num_1x1_a, 1, name=f"{name}_c1x1_a")
    h = bn_act_conv(h, num_3x3_b, 3, strides, groups=groups, name=f"{name}_c3x3_b")
    h = bn_act_conv(h, num_1x1_c + inc, 1, name=f"{name}_c1x1_c")
    block_attention = get_attention(attention, reduction=attention_reduction, name=f"{name}_{attention}")
    if block_attention is not None:
        h = block_attention(h)
    out_residual = ChannelSlice(0, num_1x1_c, name=f"{name}_out_residual")(h)
    out_dense = ChannelSlice(num_1x1_c, None, name=f"{name}_out_dense")(h)
    residual = layers.Add(name=f"{name}_residual_add")([residual, out_residual])
    dense = layers.Concatenate(name=f"{name}_dense_concat")([dense, out_dense])
    return residual, dense


FINAL_ACTIVATIONS = ("relu", "elu")


def dpn_features(x, small, stem, k_r, groups, k_sec, inc_sec, attention=None, attention_reduction=16,
                 final_activation="relu"):
    """DPN backbone from a normalised image to the final concat-BN-activation feature map."""
    attention = validate_attention(attention)
    if final_activation not in FINAL_ACTIVATIONS:
        raise ValueError(f"final_activation must be one of {FINAL_ACTIVATIONS}, got {final_activation!r}")
    bw_factor = 1 if small else 4
    x = layers.Conv2D(stem, 3 if small else 7, strides=2, padding="same", use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="conv1_pool")(x)
    for stage, (blocks, inc) in enumerate(zip(k_sec, inc_sec)):
        bw = 64 * (2**stage) * bw_factor
        r = (k_r * bw) // (64 * bw_factor)
        for i in range(blocks):
            block_type = ("proj" if stage == 0 else "down") if i == 0 else "normal"
            x = dual_path_block(
                x, r, r, bw, inc, groups, block_type, name=f"conv{stage + 2}_{i + 1}",
                attention=attention, attention_reduction=attention_reduction,
            )
    x = layers.Concatenate(name="conv5_output")(list(x))
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv5_bn")(x)
    return layers.Activation(final_activation, name=f"conv5_{final_activation}")(x)


def _build(variant, model_name, num_classes, input_shape, attention, attention_reduction, dropout,
           final_activation="relu"):
    inputs, x = image_input(input_shape, normalization="imagenet", rgb=False)
    x = dpn_features(x, **DPN_CONFIGS[variant], attention=attention, attention_reduction=attention_reduction,
                     final_activation=final_activation)
    outputs = pooled_classifier(x, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name=model_name)


@register_model(
    "dpn68",
    paper="cheng_dpn_se",
    imagenet_note=NO_IMAGENET,
    description="DPN-68 (Chen et al. 2017, Dual Path Networks); baseline in Cheng et al. (DPN-SENet) Table 1",
)
def dpn68(
    num_classes, input_shape, *, attention=None, attention_reduction=16, final_activation="relu", dropout=0.0
):
    """DPN-68."""
    return _build("dpn68", "dpn68", num_classes, input_shape, attention, attention_reduction, dropout,
                  final_activation)


@register_model(
    "dpn92",
    paper="cheng_dpn_se",
    imagenet_note=NO_IMAGENET,
    description="DPN-92 (Chen et al. 2017, Dual Path Networks); baseline in Cheng et al. (DPN-SENet) Table 1",
)
def dpn92(
    num_classes, input_shape, *, attention=None, attention_reduction=16, final_activation="relu", dropout=0.0
):
    """DPN-92."""
    return _build("dpn92", "dpn92", num_classes, input_shape, attention, attention_reduction, dropout,
                  final_activation)


@register_model(
    "dpn131",
    paper="cheng_dpn_se",
    imagenet_note=NO_IMAGENET,
    description="DPN-131 (Chen et al. 2017, Dual Path Networks); baseline in Cheng et al. (DPN-SENet) Table 1",
)
def dpn131(
    num_classes, input_shape, *, attention=None, attention_reduction=16, final_activation="relu", dropout=0.0
):
    """DPN-131."""
    return _build("dpn131", "dpn131", num_classes, input_shape, attention, attention_reduction, dropout,
                  final_activation)


@register_model(
    "dpn92_se",
    paper="cheng_dpn_se",
    imagenet_note=NO_IMAGENET,
    description="DPN-SE: DPN-92 with squeeze-and-excitation (Cheng et al. (DPN-SENet))",
)
def dpn92_se(num_classes, input_shape, *, attention="se", attention_reduction=16, final_activation="relu",
             dropout=0.0):
    """DPN-SE (Cheng et al. (DPN-SENet)): SE in every dual-path block of DPN-92."""
    return _build("dpn92", "dpn92_se", num_classes, input_shape, attention, attention_reduction, dropout,
                  final_activation)
