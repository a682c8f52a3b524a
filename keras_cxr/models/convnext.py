"""ConvNeXt-T and ConvNeXt-AT (Li et al. 2023 (ConvNeXt-AT)).

ConvNeXt-T (Liu et al., "A ConvNet for the 2020s"): 4x4/4 stem, stages of
(3, 3, 9, 3) blocks at widths (96, 192, 384, 768), 2x2/2 downsampling; block =
7x7 depthwise conv -> LayerNorm -> 1x1 (4x) -> GELU -> 1x1 -> layer scale ->
stochastic depth -> residual. The graph is rebuilt flat (keras.applications
builds each block as a closure, so no attention can be slotted in) with the
same layer names and weight shapes as ``keras.applications.ConvNeXtTiny``, so
its ImageNet weights load 1:1.

ConvNeXt-AT (Li et al. 2023, section 2.3): an attention module (CBAM) inside
the block, where layer scale was, and layer scale removed ("it already acts as
channel attention"). Placement: section 3.2 compared the modules with
attention in the FIRST block of each stage only; section 2.3 puts it in the
four main stages. Table 3 gives ConvNeXt-T 28.3 M / 4.5 GFLOPs and ConvNeXt-AT
29.2 M / 4.6 G, i.e. +0.9 M parameters (0.80-1.00 M given the rounding) and
+0.1 G. Measured here at 224x224, 4 classes (ConvNeXt-T 27,823,204
parameters, 4.455 GMACs), CBAM's added parameters / added GMACs:

============  =====================  =====================  =====================
placement     reduction 4            reduction 8            reduction 16
============  =====================  =====================  =====================
first         +0.387 M / +0.002 G    +0.191 M / +0.002 G    +0.094 M / +0.002 G
all           +1.621 M / +0.009 G    +0.811 M / +0.007 G    +0.408 M / +0.006 G
============  =====================  =====================  =====================

(layer scale removed; keeping it adds 6,624 parameters to each). Only
``attention_placement="all"`` with ``attention_reduction=8`` lands in Table 3's
+0.9 M, so that is ``convnext_at``'s default; the other choices stay options.
No CBAM setting gives +0.1 G: CBAM's MLPs and 7x7 two-channel convolution cost
under 0.01 GMACs in every placement, so Table 3's 4.6 G presumably counts
other operations (or rounds differently); it is not reproduced. Command and
full table: docs/BENCHMARKS.md, "ConvNeXt-AT: CBAM size against Li et al. 2023
Table 3". ``convnext_tiny(attention=...)`` keeps reduction 16 (the default of
Woo et al. 2018 and of SE/GC) for the Table 2 module comparison.
"""

import numpy as np
from keras import layers

from keras_cxr.layers import (
    ChannelLayerNormalization,
    DropPath,
    GroupedDepthwiseConv2D,
    LayerScale,
    PointwiseDense,
    exact_gelu,
    get_attention,
)
from keras_cxr.layers.factory import validate_attention
from keras_cxr.models.imagenet import ImagenetSource
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model

DEPTHS = (3, 3, 9, 3)
WIDTHS = (96, 192, 384, 768)
PLACEMENTS = ("first", "all")
# Layer-name prefix shared with keras.applications.ConvNeXtTiny (weight loading).
PREFIX = "convnext_tiny"


def convnext_block(
    x, width, name, drop_path_rate=0.0, layer_scale=True, attention=None, attention_reduction=16
):
    """One ConvNeXt block; ``attention`` (a factory name) replaces nothing but sits before the residual add."""
    shortcut = x
    x = GroupedDepthwiseConv2D(width, 7, padding="same", groups=width, name=f"{name}_depthwise_conv")(x)
    x = ChannelLayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
    x = PointwiseDense(4 * width, activation=exact_gelu, name=f"{name}_pointwise_conv_1")(x)
    x = PointwiseDense(width, name=f"{name}_pointwise_conv_2")(x)
    if layer_scale:
        x = LayerScale(1e-6, name=f"{name}_layer_scale")(x)
    block_attention = get_attention(attention, reduction=attention_reduction, name=f"{name}_{attention}")
    if block_attention is not None:
        x = block_attention(x)
    if drop_path_rate:
        x = DropPath(drop_path_rate, name=f"{name}_stochastic_depth")(x)
    return layers.Add(name=f"{name}_add")([shortcut, x])


def convnext_features(
    x,
    depths=DEPTHS,
    widths=WIDTHS,
    attention=None,
    attention_placement="all",
    attention_reduction=16,
    layer_scale=True,
    drop_path_rate=0.0,
):
    """The ConvNeXt backbone from a normalised image tensor to the last feature map."""
    attention = validate_attention(attention)
    if attention_placement not in PLACEMENTS:
        raise ValueError(f"attention_placement must be one of {PLACEMENTS}, got {attention_placement!r}")
    rates = np.linspace(0.0, drop_path_rate, sum(depths))
    x = layers.Conv2D(widths[0], 4, strides=4, name=f"{PREFIX}_stem_conv")(x)
    x = ChannelLayerNormalization(epsilon=1e-6, name=f"{PREFIX}_stem_layernorm")(x)
    block_index = 0
    for stage, (depth, width) in enumerate(zip(depths, widths)):
        if stage > 0:
            x = ChannelLayerNormalization(epsilon=1e-6, name=f"{PREFIX}_downsampling_layernorm_{stage - 1}")(x)
            x = layers.Conv2D(width, 2, strides=2, name=f"{PREFIX}_downsampling_conv_{stage - 1}")(x)
        for block in range(depth):
            with_attention = attention if (attention_placement == "all" or block == 0) else None
            x = convnext_block(
                x,
                width,
                name=f"{PREFIX}_stage_{stage}_block_{block}",
                drop_path_rate=float(rates[block_index]),
                layer_scale=layer_scale,
                attention=with_attention,
                attention_reduction=attention_reduction,
            )
            block_index += 1
    return x


def convnext_head(x, num_classes, dropout=0.0):
    """ConvNeXt's head: global average pool -> LayerNorm -> (dropout) -> softmax."""
    x = layers.GlobalAveragePooling2D(name=f"{PREFIX}_head_gap")(x)
    x = ChannelLayerNormalization(epsilon=1e-6, name=f"{PREFIX}_head_layernorm")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"{PREFIX}_head_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=f"{PREFIX}_head_dense")(x)


# include_top keeps the head LayerNorm's name; the 1000-way dense is skipped by shape.
_imagenet_convnext_tiny = ImagenetSource("ConvNeXtTiny", include_top=True)


def _build(name, num_classes, input_shape, dropout=0.0, **backbone):
    import keras

    inputs, x = image_input(input_shape, normalization="imagenet", rgb=True)
    x = convnext_features(x, **backbone)
    outputs = convnext_head(x, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)


@register_model(
    "convnext_tiny",
    paper="li2023",
    description="ConvNeXt-T (Liu et al. 2022), keras.applications-compatible; optional attention",
    imagenet_source=_imagenet_convnext_tiny,
)
def convnext_tiny(
    num_classes,
    input_shape,
    *,
    attention=None,
    attention_placement="all",
    attention_reduction=16,
    layer_scale=True,
    drop_path_rate=0.0,
    dropout=0.0,
):
    """ConvNeXt-T; ``attention`` in (None, "cbam", "se", "eca", "gc", "nl") gives Li et al. 2023's Table 2 variants."""
    return _build(
        "convnext_tiny",
        num_classes,
        input_shape,
        dropout=dropout,
        attention=attention,
        attention_placement=attention_placement,
        attention_reduction=attention_reduction,
        layer_scale=layer_scale,
        drop_path_rate=drop_path_rate,
    )


@register_model(
    "convnext_at",
    paper="li2023",
    description="ConvNeXt-AT: ConvNeXt-T with CBAM (reduction 8) in every block, no layer scale (Li et al. 2023)",
    imagenet_source=_imagenet_convnext_tiny,
)
def convnext_at(
    num_classes,
    input_shape,
    *,
    attention="cbam",
    attention_placement="all",
    attention_reduction=8,
    drop_path_rate=0.0,
    dropout=0.0,
):
    """ConvNeXt-AT (Li et al. 2023, section 2.3): CBAM in every block, layer scale removed.

    ``attention_reduction=8`` with ``attention_placement="all"`` adds 0.81 M
    parameters, the only setting within Table 3's +0.9 M (module docstring).
    """
    return _build(
        "convnext_at",
        num_classes,
        input_shape,
        dropout=dropout,
        attention=attention,
        attention_placement=attention_placement,
        attention_reduction=attention_reduction,
        layer_scale=False,
        drop_path_rate=drop_path_rate,
    )
