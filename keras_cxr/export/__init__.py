"""Export: SavedModel (TensorFlow Serving) and TFLite/LiteRT with quantisation, checked for parity.

This package needs TensorFlow. The TensorFlow-free runtime for ``.tflite``
files is :mod:`keras_cxr.predict.litert`.
"""


def export_model(*args, **kwargs):
    """See :func:`keras_cxr.export.exporter.export_model`."""
    from keras_cxr.export.exporter import export_model as _export_model

    return _export_model(*args, **kwargs)


__all__ = ["export_model"]
