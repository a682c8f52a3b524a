"""Input adapters that live inside every model graph.

Every keras_cxr model takes images scaled to [0, 1], with one or three channels.
The normalisation a backbone expects (ImageNet mean/std, caffe BGR, [-1, 1]) is
the first layer of the model, so training, evaluation and the exported TFLite
graph can never disagree about it (the torchxrayvision #89 / COVID-Net #102
class of bug). Grayscale X-rays going into an ImageNet backbone are copied to
three channels, as Li et al. 2023 (ConvNeXt-AT) do, so pretrained first-layer weights stay exact.
"""

import keras
from keras import layers, ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

NORMALIZATION_MODES = ("imagenet", "caffe", "tf", "scale255", "none")


@keras.saving.register_keras_serializable(package="keras_cxr")
class GrayscaleToRGB(layers.Layer):
    """Repeat a one-channel image to three channels (identity for three)."""

    def call(self, inputs):
        if inputs.shape[-1] == 1:
            return ops.repeat(inputs, 3, axis=-1)
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)


@keras.saving.register_keras_serializable(package="keras_cxr")
class ImageNormalization(layers.Layer):
    """Map [0, 1] images to what a backbone was trained on.

    Modes:
        ``imagenet``: (x - mean) / std with ImageNet statistics (torchvision,
            ConvNeXt, DenseNet); for one channel the channel means are averaged.
        ``caffe``: x * 255, RGB -> BGR, minus the BGR mean (ResNet-50, VGG16).
        ``tf``: x * 2 - 1 (MobileNet, InceptionV3).
        ``scale255``: x * 255 (EfficientNet normalises internally).
        ``none``: identity (networks trained from scratch on [0, 1] inputs).
    """

    def __init__(self, mode="imagenet", **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMALIZATION_MODES:
            raise ValueError(f"Unknown normalization mode {mode!r}. Valid: {NORMALIZATION_MODES}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        channels = inputs.shape[-1]
        if self.mode == "imagenet":
            mean, std = IMAGENET_MEAN, IMAGENET_STD
            if channels == 1:
                mean, std = (sum(mean) / 3,), (sum(std) / 3,)
            return (x - ops.convert_to_tensor(mean, x.dtype)) / ops.convert_to_tensor(std, x.dtype)
        if self.mode == "caffe":
            x = x * 255.0
            if channels == 3:
                x = ops.flip(x, axis=-1)
                return x - ops.convert_to_tensor(CAFFE_BGR_MEAN, x.dtype)
            return x - sum(CAFFE_BGR_MEAN) / 3
        if self.mode == "tf":
            return x * 2.0 - 1.0
        if self.mode == "scale255":
            return x * 255.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode)
        return config
