"""Prediction for ``.keras``, SavedModel and ``.tflite`` models.

The ``.tflite`` path (:mod:`keras_cxr.predict.litert`) imports neither
TensorFlow nor Keras: an edge install (``pip install keras-cxr[edge]``) runs it
with ai-edge-litert, NumPy and Pillow alone.
"""

from keras_cxr.predict.runner import predict_paths

__all__ = ["predict_paths"]
