"""External validation: leave one source out, or k patient-grouped folds (``keras-cxr crossval``).

``folds`` decides each fold's images (no TensorFlow), ``runner`` trains and
evaluates every fold, ``table`` writes ``crossval.json``, ``.csv`` and ``.md``.
"""

from keras_cxr.crossval.folds import Fold, plan_folds
from keras_cxr.crossval.runner import cross_validate

__all__ = ["Fold", "cross_validate", "plan_folds"]
