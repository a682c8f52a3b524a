"""ResNet-18 and ResNet-50, with ``keras.applications`` layer names.

``keras.applications`` has no ResNet-18 (a baseline in Cheng et al. (DPN-SENet),
Table 1), so it is built
here from basic blocks (two 3x3 convolutions, no conv bias, as in torchvision:
11.69 M trainable parameters with 1000 classes).

The bottleneck stack reproduces keras.applications' ResNet-50 graph name for
name, so ImageNet weights load 1:1, and attention can be inserted inside chosen
blocks (the FPN-attention network, ``resnet_fpn.py``). Two variants differ only
in where the stride of a stage's first block sits, not in weight shapes:
``"v1"`` (stride in the first 1x1 conv: He et al. 2016 and keras.applications,
3.86 GMACs, the function its ImageNet weights were trained as) and ``"v1.5"``
(stride in the 3x3 conv: torchvision, 4.09 GMACs, the ResNet-50 that Li et al.
2023 (ConvNeXt-AT) and Cheng et al. (DPN-SENet) trained in PyTorch; Li et al.
2023, Table 3, reports it as "4.1 G").
"""

import keras
from keras import layers

from keras_cxr.layers import get_attention
from keras_cxr.models.heads import pooled_classifier
from keras_cxr.models.imagenet import ImagenetSource
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model

BN_EPSILON = 1.001e-5


def stem(x, use_bias=True):
    """7x7/2 convolution, BN, ReLU, 3x3/2 max-pool (keras.applications names)."""
    x = layers.ZeroPadding2D(3, name="conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)


def _conv_bn(x, filters, kernel_size, strides, name, use_bias, relu):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=use_bias, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


VARIANTS = ("v1", "v1.5")


def bottleneck_block(x, filters, strides=1, conv_shortcut=True, name=None, attention=None, variant="v1"):
    """keras.applications ResNet block; ``attention`` (a layer) acts before the residual add."""
    stride_1x1, stride_3x3 = (strides, 1) if variant == "v1" else (1, strides)
    shortcut = _conv_bn(x, 4 * filters, 1, strides, f"{name}_0", True, False) if conv_shortcut else x
    x = _conv_bn(x, filters, 1, stride_1x1, f"{name}_1", True, True)
    x = _conv_bn(x, filters, 3, stride_3x3, f"{name}_2", True, True)
    x = _conv_bn(x, 4 * filters, 1, 1, f"{name}_3", True, False)
    if attention is not None:
        x = attention(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def basic_block(x, filters, strides=1, conv_shortcut=False, name=None, attention=None, variant=None):
    """ResNet-18/34 block: two 3x3 convolutions."""
    shortcut = _conv_bn(x, filters, 1, strides, f"{name}_0", False, False) if conv_shortcut else x
    x = _conv_bn(x, filters, 3, strides, f"{name}_1", False, True)
    x = _conv_bn(x, filters, 3, 1, f"{name}_2", False, False)
    if attention is not None:
        x = attention(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def resnet_stages(
    x,
    block,
    blocks_per_stage,
    attention=None,
    attention_stages=(),
    attention_reduction=16,
    variant="v1",
    attention_options=None,
):
    """Stages conv2..conv5; returns the output of every stage.

    ``attention`` (a factory name) goes into the LAST block of each stage listed
    in ``attention_stages`` (stage numbers 2-5), as Chen et al. (improved
    ResNet50, CT) do for conv3-conv5. ``attention_options`` are further keyword
    arguments for that layer (e.g. ``{"inter_ratio": 0.125}`` for non-local).
    """
    outputs = []
    for stage_index, blocks in enumerate(blocks_per_stage):
        stage = stage_index + 2
        filters = 64 * 2**stage_index
        for i in range(1, blocks + 1):
            name = f"conv{stage}_block{i}"
            att = None
            if i == blocks and stage in attention_stages:
                att = get_attention(
                    attention, reduction=attention_reduction, name=f"{name}_{attention}", **(attention_options or {})
                )
            needs_projection = i == 1 and (block is bottleneck_block or stage > 2)
            x = block(
                x,
                filters,
                strides=2 if (i == 1 and stage > 2) else 1,
                conv_shortcut=needs_projection,
                name=name,
                attention=att,
                variant=variant,
            )
        outputs.append(x)
    return outputs


@register_model(
    "resnet18",
    paper="cheng_dpn_se",
    description="ResNet-18 (He et al. 2016), built here; baseline in Cheng et al. (DPN-SENet) Table 1",
    imagenet_note="keras.applications has no ResNet-18; Cheng et al. (DPN-SENet)'s recipe trains it from scratch",
)
def resnet18(num_classes, input_shape, *, attention=None, dropout=0.0):
    """ResNet-18 with basic blocks; ``attention`` adds a block to the last unit of every stage."""
    inputs, x = image_input(input_shape, normalization="imagenet", rgb=False)
    x = stem(x, use_bias=False)
    features = resnet_stages(x, basic_block, (2, 2, 2, 2), attention=attention, attention_stages=(2, 3, 4, 5))
    outputs = pooled_classifier(features[-1], num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="resnet18")


_imagenet_resnet50 = ImagenetSource("ResNet50")


def check_variant(variant):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


@register_model(
    "resnet50",
    # Baseline in Li et al. 2023 Table 3, Cheng et al. Table 1 and Chen et al. (CT).
    paper="li2023,cheng_dpn_se,chen_resnet_ct",
    description="ResNet-50 (v1.5 default as in the PyTorch papers; v1 = keras.applications)",
    imagenet_source=_imagenet_resnet50,
)
def resnet50(num_classes, input_shape, *, variant="v1.5", dropout=0.0):
    """ResNet-50; ``variant="v1"`` is keras.applications' graph exactly."""
    check_variant(variant)
    inputs, x = image_input(input_shape, normalization="caffe", rgb=True)
    x = stem(x)
    features = resnet_stages(x, bottleneck_block, (3, 4, 6, 3), variant=variant)
    outputs = pooled_classifier(features[-1], num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="resnet50")
