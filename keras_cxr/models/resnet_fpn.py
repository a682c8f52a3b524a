"""ResNet50-FPN-attention: Chen et al. (improved ResNet50, CT), for COVID-19 CT slices.

ResNet-50 (keras.applications layer names, so ImageNet weights load 1:1) with:
- self-attention (non-local, embedded Gaussian; Wang et al. 2018) added before
  the residual output of the LAST block of conv3, conv4 and conv5
  (conv3_block4, conv4_block6, conv5_block3); input and output shapes are
  equal, and the block starts as the identity (zero-initialised BN scale) so
  pretrained features are untouched at the start of fine-tuning;
- a feature pyramid over the last block of conv2..conv5 (strides 4/8/16/32):
  1x1 lateral convolutions, a top-down path (nearest 2x upsampling +
  addition) and a 3x3 smoothing step per level (P2..P5).

The paper does not say how the pyramid feeds the classifier. Here each level
P2..P5 is globally average-pooled and the four vectors are concatenated ->
dropout -> softmax: every scale votes, and a small lesion seen sharply at P2 is
not averaged away by P5.

Two designs (``design=``), same structure, different widths:

- ``"light"`` (default): 128-channel pyramid, 3x3 *depthwise* smoothing, and
  non-local blocks with an inner width of 1/8 of their input (64/128/256
  channels at conv3/4/5) with keys and values 2x2 max-pooled (the sub-sampling
  of Wang et al. 2018, section 3.3). About 4.38 GMACs and 26.9 M parameters at
  224x224 (3 classes).
- ``"full"``: the textbook choices, 256-channel pyramid with full 3x3
  smoothing convolutions (Lin et al. 2017) and non-local inner width 1/2
  (Wang et al. 2018). About 8.02 GMACs and 38.0 M parameters; the 3x3
  smoothing of the 56x56 level alone costs 1.85 GMACs.

``fpn_channels``, ``fpn_smoothing`` and ``attention_inter_ratio`` override the
design's value one by one.

Chen et al. report their network as faster than plain ResNet-50 on CPU (12.75
vs 7.89 img/s). Every design here contains all of ResNet-50 (3.86 GMACs for the
keras.applications v1 graph the paper's TensorFlow 2.4 used), so neither can
be faster than it; the light design's additions cost about 0.53 GMACs
(+14 %), which bounds its CPU speed at roughly 0.9x ResNet-50's. Measured
numbers: docs/BENCHMARKS.md, "Chen et al. (improved ResNet50): light vs full
design".
"""

import keras
from keras import layers

from keras_cxr.layers.factory import validate_attention
from keras_cxr.models.heads import classifier
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model
from keras_cxr.models.resnet import _imagenet_resnet50, bottleneck_block, check_variant, resnet_stages, stem

RESNET50_BLOCKS = (3, 4, 6, 3)
SMOOTHING = ("conv", "depthwise", "none")
# design: (fpn_channels, fpn_smoothing, attention_inter_ratio)
DESIGNS = {
    "light": dict(fpn_channels=128, fpn_smoothing="depthwise", attention_inter_ratio=0.125),
    "full": dict(fpn_channels=256, fpn_smoothing="conv", attention_inter_ratio=0.5),
}


def feature_pyramid(features, channels=256, smoothing="conv"):
    """FPN top-down path over C2..C5 (Lin et al. 2017, section 3); returns [P2, P3, P4, P5].

    ``smoothing``: "conv" (3x3 convolution, ``channels`` filters, per level),
    "depthwise" (3x3 depthwise convolution per level: removes the upsampling
    aliasing at 1/``channels`` of the cost, without mixing channels) or "none".
    """
    if smoothing not in SMOOTHING:
        raise ValueError(f"fpn_smoothing must be one of {SMOOTHING}, got {smoothing!r}")
    laterals = [
        layers.Conv2D(channels, 1, name=f"fpn_lateral{level}")(c) for level, c in zip(range(2, 6), features)
    ]
    merged = [laterals[-1]]
    for level in range(4, 1, -1):
        upsampled = layers.UpSampling2D(2, interpolation="nearest", name=f"fpn_upsample{level + 1}")(merged[0])
        merged.insert(0, layers.Add(name=f"fpn_merge{level}")([laterals[level - 2], upsampled]))
    if smoothing == "none":
        return merged
    if smoothing == "depthwise":
        return [
            layers.DepthwiseConv2D(3, padding="same", name=f"fpn_output{level}")(p)
            for level, p in zip(range(2, 6), merged)
        ]
    return [
        layers.Conv2D(channels, 3, padding="same", name=f"fpn_output{level}")(p)
        for level, p in zip(range(2, 6), merged)
    ]


def resolve_design(design, fpn_channels=None, fpn_smoothing=None, attention_inter_ratio=None):
    """The design's settings with the explicitly given ones (not None) replacing them."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {tuple(DESIGNS)}, got {design!r}")
    settings = dict(DESIGNS[design])
    given = dict(fpn_channels=fpn_channels, fpn_smoothing=fpn_smoothing, attention_inter_ratio=attention_inter_ratio)
    settings.update({k: v for k, v in given.items() if v is not None})
    if not isinstance(settings["fpn_channels"], int) or settings["fpn_channels"] < 1:
        raise ValueError(f"fpn_channels must be a positive integer, got {settings['fpn_channels']!r}")
    if not 0 < float(settings["attention_inter_ratio"]) <= 1:
        raise ValueError(f"attention_inter_ratio must be in (0, 1], got {settings['attention_inter_ratio']!r}")
    return settings


@register_model(
    "resnet50_fpn_attention",
    paper="chen_resnet_ct",
    description="ResNet-50 + FPN + self-attention in the last block of conv3-5 (Chen et al., CT)",
    input_size_multiple=32,
    imagenet_source=_imagenet_resnet50,
    # Every pyramid level is pooled into the head; only C5 reaches all of them.
    cam_layer="conv5_block3_out",
)
def resnet50_fpn_attention(
    num_classes,
    input_shape,
    *,
    design="light",
    fpn_channels=None,
    fpn_smoothing=None,
    attention="nl",
    attention_inter_ratio=None,
    attention_stages=(3, 4, 5),
    variant="v1",
    dropout=0.0,
):
    """Chen et al.'s improved ResNet-50 (CT); ``design`` "light" (default) or "full".

    ``fpn_channels`` (light 128, full 256), ``fpn_smoothing`` ("depthwise" /
    "conv" / "none") and ``attention_inter_ratio`` (non-local inner width over
    input width: light 1/8, full 1/2) override the design; None keeps it.
    ``attention`` is any factory name (default non-local; the inner-width ratio
    applies to "nl" only). ``variant="v1"`` (default) is keras.applications'
    ResNet-50, which Chen et al. used (TensorFlow 2.4); ``"v1.5"`` moves the
    stride to the 3x3 convolutions.
    """
    settings = resolve_design(design, fpn_channels, fpn_smoothing, attention_inter_ratio)
    attention = validate_attention(attention)
    check_variant(variant)
    inputs, x = image_input(input_shape, normalization="caffe", rgb=True)
    x = stem(x)
    features = resnet_stages(
        x,
        bottleneck_block,
        RESNET50_BLOCKS,
        attention=attention,
        attention_stages=tuple(attention_stages),
        variant=variant,
        attention_options={"inter_ratio": float(settings["attention_inter_ratio"])} if attention == "nl" else None,
    )
    pyramid = feature_pyramid(features, settings["fpn_channels"], settings["fpn_smoothing"])
    pooled = [layers.GlobalAveragePooling2D(name=f"fpn_pool{level}")(p) for level, p in zip(range(2, 6), pyramid)]
    fused = layers.Concatenate(name="fpn_fusion")(pooled)
    outputs = classifier(fused, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="resnet50_fpn_attention")
