"""Loading pretrained weights into keras_cxr networks.

Weights move by layer name and shape: the rebuilt networks (ConvNeXt-T,
ResNet-50 inside the FPN model, DenseNet-121 inside Covid-DenseNet) keep the
``keras.applications`` layer names, so ImageNet tensors land 1:1 and the layers
a paper adds (attention, FPN, fusion, the new head) stay freshly initialised.
"""

import dataclasses
import os

import keras

from keras_cxr.utils.logging import get_logger

# The ``weights`` argument handed to keras.applications for ImageNet sources.
# Tests set it to None to exercise the transfer without internet.
IMAGENET_WEIGHTS = "imagenet"


@dataclasses.dataclass
class TransferReport:
    """What a weight load did, tensor by tensor."""

    source: str
    transferred: int = 0
    transferred_layers: list = dataclasses.field(default_factory=list)
    shape_mismatch: list = dataclasses.field(default_factory=list)
    new_layers: list = dataclasses.field(default_factory=list)
    total: int = 0

    def summary(self):
        return (
            f"{self.transferred}/{self.total} weight tensors loaded from {self.source}; "
            f"{len(self.new_layers)} layers freshly initialised, "
            f"{len(self.shape_mismatch)} skipped for a shape mismatch"
        )


def iter_layers(model):
    """Every leaf layer of ``model``, descending into nested models."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)
        else:
            yield layer


def _skip(layer):
    # Fixed input statistics belong to the architecture, not to training; the
    # EfficientNet builder sets them itself (see models/applications.py).
    return isinstance(layer, keras.layers.Normalization)


def transfer_weights(target, source, source_name="model"):
    """Copy weights from ``source`` into ``target`` for layers sharing a name and shapes."""
    by_name = {layer.name: layer for layer in iter_layers(source) if layer.weights}
    report = TransferReport(source=source_name)
    for layer in iter_layers(target):
        if not layer.weights or _skip(layer):
            continue
        report.total += len(layer.weights)
        src = by_name.get(layer.name)
        if src is None:
            report.new_layers.append(layer.name)
            continue
        src_values = src.get_weights()
        if [tuple(w.shape) for w in layer.weights] != [tuple(v.shape) for v in src_values]:
            report.shape_mismatch.append(layer.name)
            continue
        layer.set_weights(src_values)
        report.transferred += len(src_values)
        report.transferred_layers.append(layer.name)
    return report


def paper_citations(keys):
    """``ModelSpec.paper`` ("li2023,cheng_dpn_se") as the papers' citations."""
    from keras_cxr.papers import citation

    return citation(keys)


def imagenet_unavailable(spec):
    """The message for ``weights="imagenet"`` on a network without an ImageNet source."""
    why = spec.imagenet_note or f"keras.applications has none for it ({paper_citations(spec.paper)})"
    return (
        f"{spec.name} has no ImageNet weights: {why}. Use weights=None (random initialisation) or "
        "weights=PATH (a .keras or .weights.h5 file of your own)."
    )


def _is_weights_only_h5(path):
    """True for a legacy .h5 holding weights but no model (how keras.applications publishes ImageNet weights)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            return "model_config" not in handle.attrs
    except OSError as error:
        raise ValueError(f"Cannot read weights from {path}: not an HDF5 file ({error})") from None


def _load_imagenet_file(model, spec, path):
    """Keras's ImageNet weight file given as weights=PATH: built into its keras.applications source."""
    from keras_cxr.models.imagenet import ImagenetWeightsMismatch, verify

    file = getattr(spec.imagenet_source, "file", None)
    if file is not None and os.path.basename(path) == file.fname:
        verify(file, path, spec.name)
    try:
        source = spec.imagenet_source(path)
    except (ValueError, KeyError, OSError) as error:
        expected = f" ({file.fname}, weights of {file.source})" if file is not None else ""
        raise ImagenetWeightsMismatch(
            f"{spec.name}: {path} holds weights only, and they do not fit its ImageNet source{expected}: {error}"
        ) from error
    return transfer_weights(model, source, source_name=f"ImageNet ({source.name}, {path})")


def load_weights(model, spec, weights):
    """Load ``weights`` ("imagenet" or a file path) into ``model``; returns a TransferReport.

    "imagenet" uses a local copy of Keras's file when there is one (keras_cxr.models.imagenet
    says where it looks) and downloads it otherwise; without either the error says what to put where.
    """
    if isinstance(weights, str) and weights == "imagenet":
        if spec.imagenet_source is None:
            raise ValueError(imagenet_unavailable(spec))
        argument = IMAGENET_WEIGHTS
        file = getattr(spec.imagenet_source, "file", None)
        if argument == "imagenet" and file is not None:
            from keras_cxr.models.imagenet import imagenet_weights_path

            argument = imagenet_weights_path(spec.name, file)
        source = spec.imagenet_source(argument)
        report = transfer_weights(model, source, source_name=f"ImageNet ({source.name})")
    else:
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Weights file not found: {path}")
        if path.endswith(".weights.h5"):
            model.load_weights(path)
            total = len(model.weights)
            report = TransferReport(source=path, transferred=total, total=total)
        elif path.endswith(".h5") and spec.imagenet_source is not None and _is_weights_only_h5(path):
            report = _load_imagenet_file(model, spec, path)
        elif path.endswith((".keras", ".h5")):
            import keras_cxr.layers  # noqa: F401  (registers custom layers for loading)

            source = keras.saving.load_model(path, compile=False)
            report = transfer_weights(model, source, source_name=path)
        else:
            raise ValueError(
                f"Cannot read weights from {path}: expected 'imagenet', a .keras model, "
                "a .weights.h5 file, a legacy .h5 model or Keras's ImageNet .h5 file"
            )
    if report.transferred == 0:
        raise ValueError(f"No weights of {report.source} match {spec.name}: no layer shares a name and shape")
    get_logger().info("%s: %s", spec.name, report.summary())
    return report
