"""Channel slicing as a serializable layer (dual-path networks split channels)."""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="keras_cxr")
class ChannelSlice(layers.Layer):
    """Return channels ``[start, stop)`` of a channels-last tensor."""

    def __init__(self, start, stop=None, **kwargs):
        super().__init__(**kwargs)
        self.start = int(start)
        self.stop = None if stop is None else int(stop)

    def call(self, inputs):
        return inputs[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        stop = input_shape[-1] if self.stop is None else self.stop
        return tuple(input_shape[:-1]) + (stop - self.start,)

    def get_config(self):
        config = super().get_config()
        config.update(start=self.start, stop=self.stop)
        return config
