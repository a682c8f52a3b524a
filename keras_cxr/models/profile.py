"""Parameters and multiply-accumulates (MACs) of a functional model.

MACs are counted analytically from the graph's static shapes, layer by layer,
for one image: convolutions, dense layers (also when applied per position, as
ConvNeXt's pointwise layers are) and the keras_cxr attention layers, which
report their own cost through ``compute_macs``. Normalisation, activations and
pooling are not counted, matching how the papers (and fvcore/ptflops) quote
GMACs: ConvNeXt-T 4.47 G, ResNet-50 4.11 G at 224x224.
"""

import math

import keras


def _prod(values):
    return int(math.prod(int(v) for v in values))


def _layer_macs(layer, in_shape, out_shape):
    if hasattr(layer, "compute_macs"):
        return int(layer.compute_macs(in_shape))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return _prod(out_shape[1:]) * kh * kw
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        cin = int(in_shape[-1])
        depthwise = _prod(out_shape[1:3]) * cin * layer.depth_multiplier * kh * kw
        return depthwise + _prod(out_shape[1:3]) * cin * layer.depth_multiplier * int(out_shape[-1])
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        cin = int(in_shape[-1]) // layer.groups
        return _prod(out_shape[1:]) * _prod(layer.kernel_size) * cin
    if isinstance(layer, keras.layers.Dense):
        return _prod(out_shape[1:]) * int(in_shape[-1])
    return 0


def count_macs(model):
    """Multiply-accumulates for one input sample of ``model`` (nested models included)."""
    total = 0
    for nodes in model._nodes_by_depth.values():
        for node in nodes:
            op = node.operation
            if not node.input_tensors or not node.output_tensors:
                continue
            if isinstance(op, keras.Model):
                total += count_macs(op)
                continue
            in_shape = node.input_tensors[0].shape
            out_shape = node.output_tensors[0].shape
            if any(d is None for d in in_shape[1:]) or any(d is None for d in out_shape[1:]):
                raise ValueError(f"Cannot count MACs of {op.name}: input shape {in_shape} is not static")
            total += _layer_macs(op, in_shape, out_shape)
    return total


def profile(model):
    """``{"params", "trainable_params", "macs", "gmacs"}`` for one image through ``model``."""
    trainable = sum(_prod(w.shape) for w in model.trainable_weights)
    macs = count_macs(model)
    return {
        "params": int(model.count_params()),
        "trainable_params": int(trainable),
        "macs": int(macs),
        "gmacs": macs / 1e9,
    }
