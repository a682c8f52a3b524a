"""Backend-agnostic Keras layers used by the keras_cxr networks.

Every layer here is written with ``keras.ops`` only, has ``get_config`` and is
registered for Keras serialization under the ``keras_cxr`` package, so a
``.keras`` file that uses them loads after ``import keras_cxr.layers``.
"""

from keras_cxr.layers.cbam import CBAM
from keras_cxr.layers.channel_slice import ChannelSlice
from keras_cxr.layers.drop_path import DropPath
from keras_cxr.layers.eca import ECA
from keras_cxr.layers.factory import ATTENTION_LAYERS, get_attention, list_attention
from keras_cxr.layers.gelu import exact_gelu
from keras_cxr.layers.global_context import GlobalContext
from keras_cxr.layers.grouped_conv import GroupedConv2D
from keras_cxr.layers.grouped_depthwise import GroupedDepthwiseConv2D
from keras_cxr.layers.input_adapters import GrayscaleToRGB, ImageNormalization
from keras_cxr.layers.layer_norm import ChannelLayerNormalization
from keras_cxr.layers.layer_scale import LayerScale
from keras_cxr.layers.non_local import NonLocal
from keras_cxr.layers.pointwise_dense import PointwiseDense
from keras_cxr.layers.random_contrast_range import RandomContrastRange
from keras_cxr.layers.zero_pad_images import ZeroPadImages
from keras_cxr.layers.scale_fusion import ScaleAttentionFusion
from keras_cxr.layers.squeeze_excite import SqueezeExcite
from keras_cxr.layers.temperature import TemperatureScaling

__all__ = [
    "ATTENTION_LAYERS",
    "CBAM",
    "ChannelLayerNormalization",
    "ChannelSlice",
    "DropPath",
    "ECA",
    "GlobalContext",
    "GroupedConv2D",
    "GroupedDepthwiseConv2D",
    "GrayscaleToRGB",
    "ImageNormalization",
    "LayerScale",
    "NonLocal",
    "PointwiseDense",
    "RandomContrastRange",
    "ZeroPadImages",
    "ScaleAttentionFusion",
    "SqueezeExcite",
    "TemperatureScaling",
    "exact_gelu",
    "get_attention",
    "list_attention",
]
