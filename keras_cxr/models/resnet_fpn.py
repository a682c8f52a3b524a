"""ResNet50-FPN-attention (seed 004: Chen et al., improved ResNet50 for COVID-19).

ResNet-50 (keras.applications layer names, so ImageNet weights load 1:1) with:
- self-attention (non-local, embedded Gaussian) added before the residual
  output of the LAST block of conv3, conv4 and conv5 (conv3_block4,
  conv4_block6, conv5_block3); input and output shapes are equal, and the block
  starts as the identity (zero-initialised BN scale) so pretrained features
  are untouched at the start of fine-tuning;
- a feature pyramid over the last block of conv2..conv5 (strides 4/8/16/32):
  1x1 lateral convolutions to 256 channels, a top-down path (nearest 2x
  upsampling + addition) and a 3x3 smoothing convolution per level (P2..P5).

The paper does not say how the pyramid feeds the classifier. Here each level
P2..P5 is globally average-pooled and the four 256-d vectors are concatenated
(1024-d) -> dropout -> softmax: every scale votes, and a small lesion seen
sharply at P2 is not averaged away by P5.
"""

import keras
from keras import layers

from keras_cxr.layers.factory import validate_attention
from keras_cxr.models.heads import classifier
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model
from keras_cxr.models.resnet import _imagenet_resnet50, bottleneck_block, check_variant, resnet_stages, stem

RESNET50_BLOCKS = (3, 4, 6, 3)


def feature_pyramid(features, channels=256):
    """FPN top-down path over C2..C5; returns [P2, P3, P4, P5]."""
    laterals = [
        layers.Conv2D(channels, 1, name=f"fpn_lateral{level}")(c) for level, c in zip(range(2, 6), features)
    ]
    merged = [laterals[-1]]
    for level in range(4, 1, -1):
        upsampled = layers.UpSampling2D(2, interpolation="nearest", name=f"fpn_upsample{level + 1}")(merged[0])
        merged.insert(0, layers.Add(name=f"fpn_merge{level}")([laterals[level - 2], upsampled]))
    return [
        layers.Conv2D(channels, 3, padding="same", name=f"fpn_output{level}")(p)
        for level, p in zip(range(2, 6), merged)
    ]


@register_model(
    "resnet50_fpn_attention",
    paper="004",
    description="ResNet-50 + FPN + self-attention in the last block of conv3-5 (seed 004)",
    input_size_multiple=32,
    imagenet_source=_imagenet_resnet50,
    # Every pyramid level is pooled into the head; only C5 reaches all of them.
    cam_layer="conv5_block3_out",
)
def resnet50_fpn_attention(
    num_classes,
    input_shape,
    *,
    attention="nl",
    attention_stages=(3, 4, 5),
    fpn_channels=256,
    variant="v1",
    dropout=0.0,
):
    """Seed 004's improved ResNet-50; ``attention`` is any factory name (default non-local).

    ``variant="v1"`` (default) is keras.applications' ResNet-50, which seed 004
    used (TensorFlow 2.4); ``"v1.5"`` moves the stride to the 3x3 convolutions.
    """
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
    )
    pyramid = feature_pyramid(features, fpn_channels)
    pooled = [layers.GlobalAveragePooling2D(name=f"fpn_pool{level}")(p) for level, p in zip(range(2, 6), pyramid)]
    fused = layers.Concatenate(name="fpn_fusion")(pooled)
    outputs = classifier(fused, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="resnet50_fpn_attention")
