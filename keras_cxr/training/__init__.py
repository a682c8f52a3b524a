"""Training: configs (the papers' recipes), schedules, optimizers, class weights, resumable runs.

>>> from keras_cxr.training import train
>>> result = train("configs/li2023/convnext_at.yaml", "data/split.csv", "runs/convnext_at")

For plain ``model.fit`` use the pieces in :mod:`keras_cxr.training.recipe`.
"""

from keras_cxr.training.config import ConfigError, load_config, validate
from keras_cxr.training.recipe import (
    balanced_class_weights,
    build_loss,
    build_optimizer,
    build_schedule,
    class_weights,
    default_metrics,
)
from keras_cxr.training.schedules import PiecewiseConstant, WarmupDecay, three_stage
from keras_cxr.training.trainer import RunDirectoryError, TrainResult, train

__all__ = [
    "ConfigError",
    "PiecewiseConstant",
    "RunDirectoryError",
    "TrainResult",
    "WarmupDecay",
    "balanced_class_weights",
    "build_loss",
    "build_optimizer",
    "build_schedule",
    "class_weights",
    "default_metrics",
    "load_config",
    "three_stage",
    "train",
    "validate",
]
