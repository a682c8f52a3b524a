"""Prediction for ``.keras``, SavedModel and ``.tflite`` models, in batches.

The ``.tflite`` path (:mod:`keras_cxr.predict.litert`) imports neither
TensorFlow nor Keras: an edge install (``pip install keras-cxr[edge]``) runs it
with ai-edge-litert, NumPy and Pillow alone.

>>> from keras_cxr.predict import predict_paths, predict_to_csv
>>> records = predict_paths("runs/convnext_at", ["xrays/"])              # a list, for small runs
>>> predict_to_csv("model.tflite", ["data/manifest.csv"], "predictions.csv", batch_size=32)  # any count, resumable
"""

from keras_cxr.predict.csv_output import csv_columns, predict_to_csv
from keras_cxr.predict.runner import Predictor, collect_paths, iter_predictions, load_predictor, predict_paths

__all__ = ["Predictor", "collect_paths", "csv_columns", "iter_predictions", "load_predictor", "predict_paths",
           "predict_to_csv"]
