"""Turn a validated config into Keras objects: schedule, optimizer, loss, class weights.

These are the pieces a notebook user calls around a plain ``model.fit``::

    optimizer = build_optimizer(config, steps_per_epoch)
    model.compile(optimizer, loss=build_loss(config), metrics=default_metrics())
    model.fit(train, validation_data=val, class_weight=class_weights(config, manifest))
"""

import numpy as np
import keras

from keras_cxr.training.schedules import PiecewiseConstant, WarmupDecay, three_stage


def build_schedule(config, steps_per_epoch):
    """The config's learning-rate schedule (epochs converted to optimizer steps)."""
    t = config["training"]
    lr = float(t["learning_rate"])
    steps = max(int(steps_per_epoch), 1)
    warmup = int(round(t["warmup_epochs"] * steps))
    total = max(t["epochs"] * steps - warmup, 1)
    name = t["schedule"]
    if name == "constant" and warmup == 0:
        return lr
    if name in ("constant", "warmup_cosine", "warmup_exponential", "warmup_step"):
        decay = {"constant": "constant", "warmup_cosine": "cosine", "warmup_exponential": "exponential",
                 "warmup_step": "step"}[name]
        return WarmupDecay(lr, warmup_steps=warmup, decay=decay, decay_steps=total,
                           min_lr=float(t["min_learning_rate"]), decay_rate=float(t["decay_rate"]),
                           step_size=max(int(round(t["decay_epochs"] * steps)), 1),
                           warmup_start_lr=float(t["warmup_start_learning_rate"]))
    boundaries = [int(round(b * steps)) for b in t["boundaries_epochs"]]
    values = [float(v) for v in t["values"]]
    if name == "three_stage":
        return three_stage(values[0], values[1], values[2], boundaries[0], boundaries[1])
    return PiecewiseConstant(boundaries, values)


def build_optimizer(config, steps_per_epoch):
    """adam, adamw, nadam or sgd (momentum, nesterov) with the config's schedule and weight decay."""
    t = config["training"]
    lr = build_schedule(config, steps_per_epoch)
    # null means "the optimizer's own default"; a number, 0 included, is used as written.
    decay = None if t["weight_decay"] is None else float(t["weight_decay"])
    name = t["optimizer"]
    if name == "adam":
        return keras.optimizers.Adam(lr, weight_decay=decay)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=0.004 if decay is None else decay)
    if name == "nadam":
        return keras.optimizers.Nadam(lr, weight_decay=decay)
    return keras.optimizers.SGD(lr, momentum=float(t["momentum"]), nesterov=bool(t["nesterov"]), weight_decay=decay)


def build_loss(config):
    """Categorical cross-entropy with the config's label smoothing (Zhong 2020's script: 0.12)."""
    return keras.losses.CategoricalCrossentropy(label_smoothing=float(config["training"]["label_smoothing"]))


def default_metrics():
    """Accuracy, plus micro-averaged precision and recall as Zhong 2020 reports them from Keras."""
    return [
        keras.metrics.CategoricalAccuracy(name="accuracy"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
        keras.metrics.AUC(name="auc"),
    ]


METRIC_NAMES = ("loss", "accuracy", "precision", "recall", "auc")


def logged_metric_names():
    """Every value a training run logs per epoch (train and val_), the choices of training.monitor."""
    return [*METRIC_NAMES, *(f"val_{name}" for name in METRIC_NAMES), "learning_rate"]


def balanced_class_weights(labels, classes):
    """scikit-learn's 'balanced' weights, n / (k * count_c), as ``{index: weight}``."""
    from sklearn.utils.class_weight import compute_class_weight

    present = sorted(set(labels))
    missing = [classes[i] for i in range(len(classes)) if i not in present]
    if missing:
        raise ValueError(f"Cannot balance class weights: no training images of {missing}")
    weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=np.asarray(labels))
    return {i: float(w) for i, w in enumerate(weights)}


def class_weights(config, train_manifest):
    """``None``, 'balanced' (from the training split) or explicit ``{class name: weight}`` -> ``{index: weight}``."""
    spec = config["training"]["class_weight"]
    if spec is None:
        return None
    classes = train_manifest.classes
    if spec == "balanced":
        return balanced_class_weights([classes.index(r["label"]) for r in train_manifest.records], classes)
    unknown = sorted(set(spec) - set(classes))
    if unknown:
        raise ValueError(f"training.class_weight names unknown classes {unknown}. Classes: {classes}")
    return {i: float(spec.get(name, 1.0)) for i, name in enumerate(classes)}
