"""The input end shared by every network: [0, 1] images, 1 or 3 channels."""

import keras

from keras_cxr.layers import GrayscaleToRGB, ImageNormalization


def image_input(input_shape, normalization="imagenet", rgb=True):
    """Return ``(inputs, x)``: the Input and the tensor a backbone starts from.

    ``rgb=True`` copies a grayscale image to three channels (backbones with
    ImageNet weights); ``normalization`` is an :class:`ImageNormalization` mode.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if rgb and input_shape[-1] == 1:
        x = GrayscaleToRGB(name="input_grayscale_to_rgb")(x)
    if normalization != "none":
        x = ImageNormalization(normalization, name="input_normalization")(x)
    return inputs, x
