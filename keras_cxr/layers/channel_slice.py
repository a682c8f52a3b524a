"""Channel slicing as a serializable layer (dual-path networks split channels)."""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class ChannelSlice(layers.Layer):
    """Return channels ``[start, stop)`` of a channels-last tensor (negative indices count from the end).

    In training it is one piece of ``ops.split``, not ``inputs[..., start:stop]``:
    the same values, but TensorFlow's gradient of a strided slice pads a
    full-size zero tensor on the CPU (DPN-92 at batch 16: about 2.4 s of a
    training step), while a split's gradient is a concatenation. At inference
    it stays a slice, which LiteRT's XNNPACK delegate runs (this LiteRT leaves
    DPN's uneven SPLIT_V outside it, splitting the graph).
    """

    def __init__(self, start, stop=None, **kwargs):
        super().__init__(**kwargs)
        self.start = int(start)
        self.stop = None if stop is None else int(stop)

    def _bounds(self, channels):
        """``(start, stop)`` as indices in ``[0, channels]``, Python's slice rules."""
        return slice(self.start, self.stop).indices(channels)[:2]

    def call(self, inputs, training=None):
        channels = inputs.shape[-1]
        if not training or channels is None:  # an unknown channel count: only a slice can express it
            return inputs[..., self.start : self.stop]
        start, stop = self._bounds(channels)
        stop = max(start, stop)
        cuts = [cut for cut in (start, stop) if 0 < cut < channels]
        if not cuts:
            return inputs if stop - start == channels else inputs[..., start:stop]
        pieces = ops.split(inputs, cuts, axis=-1)
        return pieces[1] if start > 0 else pieces[0]

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            return tuple(input_shape[:-1]) + (None,)
        start, stop = self._bounds(channels)
        return tuple(input_shape[:-1]) + (max(0, stop - start),)

    def get_config(self):
        config = super().get_config()
        config.update(start=self.start, stop=self.stop)
        return config
