"""The graph an edge device runs: uint8 grayscale in, class probabilities out.

An edge application has a grayscale 8-bit image at the model's input size. The
scaling to [0, 1] and the copy to three channels are layers of the exported
graph, so nothing about preprocessing can drift between training and device
(only the resize to the input size happens outside, in the application).
"""

import keras

from keras_cxr.layers import GrayscaleToRGB


def build_edge_model(classifier):
    """Wrap a keras_cxr classifier (float [0, 1] input) into a uint8 grayscale-input model."""
    height, width, channels = (int(d) for d in classifier.input_shape[1:])
    image = keras.Input((height, width, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="to_unit_range")(image)
    if channels == 3:
        x = GrayscaleToRGB(name="gray_to_rgb")(x)
    probabilities = classifier(x)
    return keras.Model(image, probabilities, name=f"{classifier.name}_edge")
