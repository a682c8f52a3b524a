"""The keras_cxr model zoo: every network of the five papers, built by name.

>>> from keras_cxr.models import build_model, list_models, profile
>>> model = build_model("convnext_at", num_classes=4)          # 224x224x3
>>> model = build_model("vgg80_multibranch", 3)                # 80x80x3
>>> model = build_model("dpn92_se", 4, input_shape=(224, 224, 1))

Every model takes images scaled to [0, 1] (one or three channels), applies the
normalisation its backbone expects inside the graph, and ends in a softmax.
"""

import keras

# Importing the family modules registers their networks.
from keras_cxr.models import applications, convnext, covid_densenet, dpn, resnet, resnet_fpn, vgg80  # noqa: F401
from keras_cxr.models.profile import count_macs, profile
from keras_cxr.models.registry import (
    ModelSpec,
    check_options,
    get_spec,
    list_models,
    register_model,
    resolve_input_shape,
)
from keras_cxr.models.weights import TransferReport, imagenet_unavailable, load_weights, transfer_weights


def build_model(name, num_classes, input_shape=None, weights=None, **options):
    """Build the registered network ``name`` as an uncompiled ``keras.Model``.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the softmax output (at least 2).
        input_shape: ``(height, width, channels)`` with 1 or 3 channels;
            ``None`` gives the paper default (224x224x3; 80x80x3 for
            ``vgg80_multibranch``).
        weights: ``None`` (random), ``"imagenet"`` (through keras.applications,
            for the networks whose backbone it has: a local copy of its file
            when there is one, see :mod:`keras_cxr.models.imagenet`, else a
            download) or a path to a ``.keras`` / ``.weights.h5`` file (or to
            Keras's ImageNet ``.h5`` file itself). The load's
            :class:`TransferReport` is kept as ``model.transfer_report``.
        **options: network options (``attention="eca"``, ``dropout=0.2``, ...);
            ``get_spec(name).options`` lists them.
    """
    spec = get_spec(name)
    check_options(spec, options)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    input_shape = resolve_input_shape(spec, input_shape)
    if isinstance(weights, str) and weights == "imagenet" and spec.imagenet_source is None:
        raise ValueError(imagenet_unavailable(spec))  # before building a network only to say so
    model = spec.builder(num_classes, input_shape, **options)
    if weights is not None:
        model.transfer_report = load_weights(model, spec, weights)
    return model


def load_model(path, compile=False):
    """Load a ``.keras`` file written by keras_cxr (registers the custom layers first)."""
    import keras_cxr.layers  # noqa: F401

    return keras.saving.load_model(path, compile=compile)


__all__ = [
    "ModelSpec",
    "TransferReport",
    "build_model",
    "check_options",
    "count_macs",
    "get_spec",
    "list_models",
    "load_model",
    "load_weights",
    "profile",
    "register_model",
    "resolve_input_shape",
    "transfer_weights",
]
