"""Covid-DenseNet: DenseNet-121 multi-scale attention fusion.

The paper's abstract gives the idea, not the layers: transfer-learned DenseNet-121
features at multiple scales, attention re-weighting each scale, a multi-scale
fusion module, a classifier. The design chosen here:

- scales: the BN-ReLU outputs of dense blocks 2, 3 and 4 (``pool3_relu``,
  512 ch, stride 8; ``pool4_relu``, 1024 ch, stride 16; ``relu``, 1024 ch,
  stride 32): normalised activations at three resolutions, the deepest being
  DenseNet-121's own final features;
- attention per scale: CBAM (channel then spatial), so each scale learns
  which channels and which lung regions matter (any factory name works);
- projection: 1x1 conv -> BN -> ReLU to 256 channels per scale, then global
  average pooling;
- fusion: :class:`ScaleAttentionFusion`, a softmax gate over the scales,
  giving the gated mixture plus every scale's vector;
- classifier: dropout -> softmax.

The backbone keeps keras.applications names, so ImageNet weights load 1:1.
"""

import keras
from keras import layers

from keras_cxr.layers import ScaleAttentionFusion, get_attention
from keras_cxr.layers.factory import validate_attention
from keras_cxr.models.heads import classifier
from keras_cxr.models.imagenet import ImagenetSource
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model

SCALE_LAYERS = ("pool3_relu", "pool4_relu", "relu")


_imagenet_densenet121 = ImagenetSource("DenseNet121")


@register_model(
    "covid_densenet",
    paper="covid_densenet",
    description="Covid-DenseNet: DenseNet-121 multi-scale attention fusion (Covid-DenseNet abstract)",
    imagenet_source=_imagenet_densenet121,
)
def covid_densenet(num_classes, input_shape, *, attention="cbam", fusion_channels=256, dropout=0.3):
    """Covid-DenseNet; see the module docstring for the design."""
    attention = validate_attention(attention)
    inputs, x = image_input(input_shape, normalization="imagenet", rgb=True)
    backbone = keras.applications.DenseNet121(include_top=False, weights=None, input_tensor=x)
    vectors = []
    for scale, layer_name in enumerate(SCALE_LAYERS, start=1):
        h = backbone.get_layer(layer_name).output
        scale_attention = get_attention(attention, name=f"scale{scale}_{attention}")
        if scale_attention is not None:
            h = scale_attention(h)
        h = layers.Conv2D(fusion_channels, 1, use_bias=False, name=f"scale{scale}_project_conv")(h)
        h = layers.BatchNormalization(name=f"scale{scale}_project_bn")(h)
        h = layers.Activation("relu", name=f"scale{scale}_project_relu")(h)
        vectors.append(layers.GlobalAveragePooling2D(name=f"scale{scale}_pool")(h))
    fused = ScaleAttentionFusion(name="scale_fusion")(vectors)
    outputs = classifier(fused, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name="covid_densenet")
