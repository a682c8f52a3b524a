"""Random contrast with the factor drawn from ``[lower, upper]``, as ``tf.image.random_contrast`` does.

Zhong 2020's training script (section 3.2 of the paper describes the augmentation; the script gives the
values) calls ``tf.image.random_contrast(image, lower=0.1, upper=0.2)``: per image a factor
``f ~ U[lower, upper]``, and each channel becomes ``(x - mean) * f + mean`` with ``mean`` that image's
mean of that channel. ``keras.layers.RandomContrast(factor)`` draws ``f`` from ``[1 - factor, 1 + factor]``
and so cannot express ``[0.1, 0.2]`` (a contrast *reduction* to 10-20% of the original); this layer can.

Written with the Keras backend's ops and a ``keras.random.SeedGenerator``, so it is backend-agnostic. Like
Keras' own random image layers it derives from Keras' data-layer base, which switches to TensorFlow ops
(and a TensorFlow seed generator) when the layer runs inside a ``tf.data`` map, as
:mod:`keras_cxr.data.pipeline` runs augmentation: it then works in the input pipeline under every Keras
backend, not only under TensorFlow. Without that base (a Keras without ``keras.src...DataLayer``) it is a
plain layer on ``keras.ops``, which works in ``tf.data`` under the TensorFlow backend.
"""

import keras

try:  # Keras >= 3.10; the base of every Keras random image layer (safe inside tf.data under any backend)
    from keras.src.layers.preprocessing.data_layer import DataLayer as _Base
except ImportError:  # pragma: no cover - older Keras 3 spelled it TFDataLayer
    try:
        from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as _Base
    except ImportError:
        _Base = keras.layers.Layer


class _KerasOps:
    """``keras.ops`` and ``keras.random`` under the names of a Keras backend module."""

    shape = staticmethod(keras.ops.shape)
    numpy = keras.ops
    random = keras.random


@keras.saving.register_keras_serializable(package="keras_cxr")
class RandomContrastRange(_Base):
    """Per image, scale each channel's deviation from its mean by ``f ~ U[lower, upper]``; identity at inference.

    Args:
        lower, upper: the factor's range, ``0 <= lower <= upper`` (``lower == upper``: a fixed factor).
            ``tf.image.random_contrast(image, 0.1, 0.2)`` is ``RandomContrastRange(0.1, 0.2)``.
        value_range: ``(low, high)`` of the images; outputs are clipped to it (a factor <= 1 never leaves
            the input's range, so for Zhong 2020's ``[0.1, 0.2]`` the clip changes nothing, as
            ``tf.image.random_contrast``, which does not clip).
        seed: an int for reproducible draws, or None.

    Input: ``(height, width, channels)`` or ``(batch, height, width, channels)`` (channels last); one
    factor per image, shared by its channels, as ``tf.image.random_contrast``.
    """

    def __init__(self, lower, upper, value_range=(0, 1), seed=None, **kwargs):
        super().__init__(**kwargs)
        lower, upper = float(lower), float(upper)
        if not 0.0 <= lower <= upper:
            raise ValueError(f"RandomContrastRange needs 0 <= lower <= upper, got lower={lower}, upper={upper}")
        low, high = (float(v) for v in value_range)
        if not low < high:
            raise ValueError(f"value_range must be (low, high) with low < high, got {value_range}")
        self.lower, self.upper = lower, upper
        self.value_range = (low, high)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def _backend(self):
        """(backend with ``shape``/``numpy``/``random``, seed generator): TensorFlow's inside tf.data."""
        backend = getattr(self, "backend", None)
        if backend is None:  # plain keras.layers.Layer base: keras.ops has the same functions
            return _KerasOps, self.generator
        return backend, self._get_seed_generator(backend._backend)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        backend, generator = self._backend()
        rank = len(inputs.shape)
        if rank not in (3, 4):
            raise ValueError(f"RandomContrastRange expects images of rank 3 or 4, got shape {inputs.shape}")
        shape = (1, 1, 1) if rank == 3 else (backend.shape(inputs)[0], 1, 1, 1)
        factor = backend.random.uniform(shape, minval=self.lower, maxval=self.upper, dtype=self.compute_dtype,
                                        seed=generator)
        outputs = self.adjust(inputs, factor, backend.numpy)
        return backend.numpy.clip(outputs, self.value_range[0], self.value_range[1])

    @staticmethod
    def adjust(images, factor, np_ops=keras.ops):
        """``(x - mean) * factor + mean`` per channel, the mean over each image's height and width."""
        mean = np_ops.mean(images, axis=(-3, -2), keepdims=True)
        return (images - mean) * factor + mean

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(lower=self.lower, upper=self.upper, value_range=list(self.value_range), seed=self.seed)
        return config
