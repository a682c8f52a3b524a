"""``keras.layers.ZeroPadding2D`` for the tf.data augmentation pipeline under every Keras backend.

Li et al. 2023's augmentation pads each image by 1/16 of its side before a random crop. Keras'
``ZeroPadding2D`` calls the global backend's ops, which under JAX or PyTorch cannot take the symbolic
TensorFlow tensors of a ``tf.data`` map; this layer derives from Keras' data-layer base (as
:class:`~keras_cxr.layers.RandomContrastRange`), which switches to TensorFlow ops there.
"""

import keras

from keras_cxr.layers.random_contrast_range import _Base, _KerasOps


@keras.saving.register_keras_serializable(package="keras_cxr")
class ZeroPadImages(_Base):
    """Pad ``(batch, height, width, channels)`` images with ``padding`` zero rows and columns on every side."""

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs, training=None):
        backend = getattr(self, "backend", None) or _KerasOps
        p = self.padding
        return backend.numpy.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]])

    def compute_output_shape(self, input_shape):
        grow = lambda d: None if d is None else d + 2 * self.padding  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
