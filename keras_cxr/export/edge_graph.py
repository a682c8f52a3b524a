"""The graph an edge device runs: uint8 grayscale in, class probabilities out.

An edge application has a grayscale 8-bit image at the model's input size. The
scaling to [0, 1] and the copy to three channels are layers of the exported
graph, so nothing about preprocessing can drift between training and device
(only the resize to the input size happens outside, in the application).
"""

import keras
import numpy as np
from keras import ops

# The layer copying the grey channel to three (int8 exports keep it float, with the rest of the preprocessing).
CHANNEL_COPY = "gray_to_rgb"
# The most taps of a depthwise kernel that LiteRT's XNNPACK runs in one fast pass (5x5).
MAX_DEPTHWISE_TAPS = 25


def build_edge_model(classifier, temperature=None):
    """Wrap a keras_cxr classifier (float [0, 1] input) into a uint8 grayscale-input model.

    ``temperature``: the run's fitted temperature, applied after the softmax
    (:class:`~keras_cxr.layers.TemperatureScaling`) so the device outputs the
    calibrated probabilities ``predict`` and ``evaluate`` report.

    The channel copy is a concatenation, not ``GrayscaleToRGB``: its ``repeat``
    converts to SHAPE/STRIDED_SLICE/TILE/RESHAPE ops on the dynamic batch size,
    which LiteRT's XNNPACK delegate does not take, so they split the graph and
    run on LiteRT's own kernels; one static CONCATENATION runs inside XNNPACK.
    Layers XNNPACK runs badly are replaced by equivalents (:func:`for_litert`).
    """
    height, width, channels = (int(d) for d in classifier.input_shape[1:])
    classifier = for_litert(classifier)
    image = keras.Input((height, width, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(image)
    if channels == 3:
        x = keras.layers.Concatenate(axis=-1, name=CHANNEL_COPY)([x, x, x])
    probabilities = classifier(x)
    if temperature is not None:
        from keras_cxr.layers.temperature import TemperatureScaling

        probabilities = TemperatureScaling(temperature, name="temperature_scaling")(probabilities)
    return keras.Model(image, probabilities, name=f"{classifier.name}_edge")


class BandedDepthwiseConv2D(keras.layers.Layer):
    """A stride-1 depthwise convolution computed as a sum of row bands of at most 25 taps each.

    Why: LiteRT's XNNPACK (ai-edge-litert 2.3, this CPU) has fast single-pass
    depthwise kernels up to 5x5 and a path about 50 times slower beyond:
    ConvNeXt's 7x7 at 56x56x96, 2 threads, takes 8-13 ms in float32 and
    50-80 ms in int8, its three bands (3x7, 3x7, 1x7) 1.3 and 1.6 ms. The
    result is the same convolution (float sums in another order).
    """

    def __init__(self, kernel, bias=None, padding="same", activation=None, **kwargs):
        super().__init__(**kwargs)
        self.kernel_value = np.asarray(kernel, np.float32)  # (kh, kw, channels, 1)
        self.bias_value = None if bias is None else np.asarray(bias, np.float32)
        rows = max(MAX_DEPTHWISE_TAPS // self.kernel_value.shape[1], 1)
        height = self.kernel_value.shape[0]
        self.bands = [(r, min(r + rows, height)) for r in range(0, height, rows)]
        self.kernel_size, self.padding = self.kernel_value.shape[:2], padding
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.kernels = []
        for a, b in self.bands:
            weight = self.add_weight(shape=self.kernel_value[a:b].shape, initializer="zeros", trainable=False,
                                     name=f"band_{a}")
            weight.assign(self.kernel_value[a:b])
            self.kernels.append(weight)
        self.bias = None
        if self.bias_value is not None:
            self.bias = self.add_weight(shape=self.bias_value.shape, initializer="zeros", trainable=False,
                                        name="bias")
            self.bias.assign(self.bias_value)

    def call(self, x):
        kh, kw = self.kernel_size
        if self.padding == "same":
            x = ops.pad(x, [[0, 0], [(kh - 1) // 2, kh // 2], [(kw - 1) // 2, kw // 2], [0, 0]])
        rows = x.shape[1] - kh + 1
        out = sum(ops.depthwise_conv(x[:, a:a + rows + (b - a) - 1], kernel, padding="valid")
                  for (a, b), kernel in zip(self.bands, self.kernels))
        return self.activation(out if self.bias is None else out + self.bias)


def _depthwise_kernel(layer):
    """``(kh, kw, channels, 1)`` kernel of a stride-1, undilated depthwise layer with too many taps, else None."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        if layer.depth_multiplier != 1:
            return None
        kernel = ops.convert_to_numpy(layer.kernel)
    elif isinstance(layer, keras.layers.Conv2D) and layer.groups > 1 and layer.groups == layer.filters:
        kernel = ops.convert_to_numpy(layer.kernel)
        if kernel.shape[2] != 1:
            return None
        kernel = kernel.reshape(*kernel.shape[:2], layer.filters, 1)
    else:
        return None
    plain = (tuple(layer.strides) == (1, 1) and tuple(layer.dilation_rate) == (1, 1)
             and layer.data_format == "channels_last" and layer.padding in ("same", "valid"))
    return kernel if plain and kernel.shape[0] * kernel.shape[1] > MAX_DEPTHWISE_TAPS else None


class StaticReshape(keras.layers.Layer):
    """``Reshape``/``Flatten`` to a static shape, the batch size given as -1.

    Why: Keras reads the batch size from the tensor (SHAPE, STRIDED_SLICE,
    PACK ops), which XNNPACK does not take: each such reshape splits the graph
    and runs on LiteRT's own kernels (EfficientNet-B0: 16 squeeze-excitation
    reshapes, 17 partitions). A constant shape is one RESHAPE inside XNNPACK.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, x):
        return ops.reshape(x, (-1, *self.target_shape))


def _replacement(layer):
    """The LiteRT-friendly equivalent of ``layer`` (same weights, same name), or None to keep it."""
    kernel = _depthwise_kernel(layer)
    if kernel is not None:
        bias = ops.convert_to_numpy(layer.bias) if layer.use_bias else None
        return BandedDepthwiseConv2D(kernel, bias, padding=layer.padding, activation=layer.activation,
                                     name=layer.name)
    if type(layer).__name__ == "GroupedConv2D":  # one grouped CONV_2D, not G convolutions between SPLIT/CONCAT
        conv = keras.layers.Conv2D.from_config(layer.get_config())
        conv.build(layer.input.shape)
        conv.set_weights(layer.get_weights())
        return conv
    if isinstance(layer, (keras.layers.Reshape, keras.layers.Flatten)):
        shape = tuple(layer.output.shape[1:])
        if all(d is not None for d in shape):
            return StaticReshape(shape, name=layer.name)
    return None


def for_litert(classifier):
    """``classifier`` with the layers :func:`_replacement` knows replaced, or itself if there are none.

    Large depthwise convolutions become :class:`BandedDepthwiseConv2D`,
    reshapes :class:`StaticReshape`, ``GroupedConv2D`` (per-group convolutions
    for TensorFlow's training speed) the plain grouped ``Conv2D`` LiteRT runs as
    one CONV_2D inside XNNPACK; the function computed is the same.
    """
    if not any(_replacement(layer) is not None for layer in classifier.layers):
        return classifier
    return keras.models.clone_model(classifier, clone_function=lambda layer: _replacement(layer) or layer)
