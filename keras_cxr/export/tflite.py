"""TFLite (LiteRT) conversion: float32, float16, dynamic-range int8, full int8.

Conversion goes through the SavedModel (the path TensorFlow supports for
Keras 3 models). A layer the converter cannot handle is reported by name,
not as a converter stack trace.

Full int8 is calibrated first and quantised second, so a few ops can stay
float where int8 costs speed or agreement (:data:`FLOAT_LAYERS`,
:data:`FLOAT_OPS`). Every op of such a model, float ones and the
QUANTIZE/DEQUANTIZE around them included, runs in LiteRT's XNNPACK delegate:
an op XNNPACK cannot run in int8 would instead split its graph and run on
LiteRT's own kernels (ConvNeXt-AT: 66 partitions, slower than float32).
"""

import re

import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
# Layer types kept float in int8 models (a base class counts). LayerNormalization: this LiteRT's XNNPACK has no
# int8 SQUARED_DIFFERENCE or RSQRT and refuses the int8 ADD of epsilon (scale ratio out of range), and an 8-bit
# variance loses most of its precision. The input scaling, channel copy and normalisation: elementwise on the
# image (cheap in float), and quantised after them the image keeps its 256 grey levels; quantised before, the
# [0, 1] image got a calibrated int8 range and about 170 levels.
# CBAM: int8 CONCATENATION gives its inputs one scale, and the quantiser carries the scale of the concatenated
# [channel mean, channel max] maps back through REDUCE_MAX into the attended features, clipping their negative
# half (ConvNeXt-AT: rmse 0.23 on features of std 0.41, top-1 agreement 2%; CBAM float: 98%, no slower).
# TemperatureScaling: LOG and MAXIMUM of int8 probabilities would bring back their 1/256 steps.
FLOAT_LAYERS = ("LayerNormalization", "Rescaling", "Normalization", "ImageNormalization", "GrayscaleToRGB", "CBAM",
                "TemperatureScaling")
# Ops kept float wherever they are. SOFTMAX: XNNPACK has no int8 softmax, and int8 probabilities come in steps
# of 1/256, whose ties flip top-1 decisions. GELU: XNNPACK has no int8 GELU; as float it stays inside the
# XNNPACK partition (ConvNeXt-AT, 224 px, 2 threads: 34 ms, against 38 ms with 18 int8 GELUs outside it).
# (The classifier head is kept float too: head_layer_names.)
FLOAT_OPS = ("SOFTMAX", "GELU")


class ConversionError(RuntimeError):
    """TFLite conversion failed; the message names the layers involved."""


_LOCATION = re.compile(r'fused\["([^"]+):", "([^"@]+)@')


def _layer_in_scope(scope, known):
    """The deepest component of a name scope (``edge/model/layer_1/Op``) that names a layer in ``known``."""
    layer = None
    for part in scope.split("/"):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in known:
                layer = candidate
    return layer


def failing_layers(message, model):
    """``[(layer name, op)]`` for the ops the converter's error lines point at.

    MLIR locations carry the op's name scope (``edge/model/layer_1/Op``);
    the deepest scope component that is a layer of ``model`` (Keras may add a
    ``_1`` suffix while tracing) names the layer.
    """
    from keras_cxr.models.weights import iter_layers

    known = {layer.name for layer in iter_layers(model)}
    found = []
    for line in message.splitlines():
        if "error" not in line:
            continue
        for op, scope in _LOCATION.findall(line):
            layer = _layer_in_scope(scope, known)
            if layer and (layer, op) not in found:
                found.append((layer, op))
    return found


def float_layer_names(model):
    """Names of the layers an int8 export keeps float: FLOAT_LAYERS types, the channel copy, the classifier head.

    ``model``: the edge model; nested models and layers inside layers count.
    """
    from keras_cxr.export.edge_graph import CHANNEL_COPY

    names = {layer.name for layer in model._flatten_layers(include_self=False)
             if layer.name == CHANNEL_COPY or any(base.__name__ in FLOAT_LAYERS for base in type(layer).__mro__)}
    return names | head_layer_names(model)


def head_layer_names(model):
    """The output Dense and the weightless layers before it back to the global pooling (the classifier head).

    Why float: int8 logits move in steps of about 1/16 of their calibrated
    range, as wide as the top-2 gap of an uncertain image, and pooled
    features in steps of their own range; both layers are a vanishing share
    of the work (a k x C matrix, a mean over the last map). Heavier layers of
    a head (VGG's 4096-wide Dense) stay int8.
    """
    import keras

    classifier = next((layer for layer in reversed(model.layers) if isinstance(layer, keras.Model)), model)
    names = set()
    for index, layer in enumerate(reversed(classifier.layers)):
        if index and layer.weights:
            break
        names.add(layer.name)
        if "GlobalAveragePooling" in type(layer).__name__ or "GlobalMaxPooling" in type(layer).__name__:
            break
    return names


def _float_nodes(calibrated, model):
    """Output tensor names of the calibrated model's ops that belong to a FLOAT_LAYERS layer."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    known = float_layer_names(model) if model is not None else set()
    if not known:
        return []
    interpreter = Interpreter(model_content=calibrated,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    outputs = [names[i] for op in interpreter._get_ops_details() for i in op["outputs"] if i in names]
    return [name for name in outputs if _layer_in_scope(name, known)]


# Ops whose int8 inputs and outputs share one scale (TFLite's 8-bit spec); the quantiser ties their tensors.
SAME_SCALE_OPS = frozenset((
    "CONCATENATION", "MAX_POOL_2D", "AVERAGE_POOL_2D", "REDUCE_MAX", "REDUCE_MIN", "RESHAPE", "SQUEEZE",
    "EXPAND_DIMS", "PAD", "PADV2", "MIRROR_PAD", "STRIDED_SLICE", "SLICE", "SPLIT", "SPLIT_V", "PACK", "UNPACK",
    "TRANSPOSE", "GATHER", "TILE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "MAXIMUM", "MINIMUM", "BROADCAST_TO"))


def unify_same_scale_ranges(calibrated):
    """The calibrated model with every group of tensors tied by SAME_SCALE_OPS given the union of their ranges.

    Why: the quantiser gives such a group one scale but takes the range of
    one member, not the union: VGG80's global max pools feed a concatenation
    whose range then clipped the max-pooled feature maps of the trunk to
    [-0.15, 0.53] (they reach -0.43): top-1 agreement 71%, accuracy -13 points.
    """
    from tensorflow.lite.python import schema_py_generated as schema

    buffer = bytearray(calibrated)
    model = schema.Model.GetRootAs(buffer, 0)
    graph = model.Subgraphs(0)
    ranges = {}  # tensor index -> writable views of its calibrated min and max
    for index in range(graph.TensorsLength()):
        quantization = graph.Tensors(index).Quantization()
        if quantization is not None and quantization.MinLength() == 1 and quantization.MaxLength() == 1:
            ranges[index] = (quantization.MinAsNumpy(), quantization.MaxAsNumpy())
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    group = {index: index for index in ranges}

    def root(index):
        while group[index] != index:
            index = group[index]
        return index

    for op_index in range(graph.OperatorsLength()):
        op = graph.Operators(op_index)
        code = model.OperatorCodes(op.OpcodeIndex())
        if names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode())) in SAME_SCALE_OPS:
            tied = [int(t) for t in (*op.InputsAsNumpy(), *op.OutputsAsNumpy()) if int(t) in ranges]
            for index in tied[1:]:
                group[root(index)] = root(tied[0])
    members = {}
    for index in ranges:
        members.setdefault(root(index), []).append(index)
    for tied in members.values():
        low, high = min(ranges[i][0][0] for i in tied), max(ranges[i][1][0] for i in tied)
        for index in tied:
            ranges[index][0][0], ranges[index][1][0] = low, high
    return bytes(buffer)


def _full_int8(converter, representative_images, model):
    """Calibrate, then quantise everything but the FLOAT_LAYERS/FLOAT_OPS ops; uint8 in, float32 out."""
    from tensorflow.lite.python import convert as tflite_convert

    def representative():
        for image in representative_images:
            yield [np.asarray(image, np.uint8)[None]]

    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = tf.uint8
    converter._experimental_calibrate_only = True  # what tf.lite.experimental.QuantizationDebugger does
    calibrated = unify_same_scale_ranges(converter.convert())
    return tflite_convert.mlir_quantize(
        calibrated, fully_quantize=False, input_data_type=tf.uint8, output_data_type=tf.float32,
        denylisted_ops=list(FLOAT_OPS), denylisted_nodes=_float_nodes(calibrated, model))


def convert(saved_model_dir, quantize="none", representative_images=None, model=None):
    """Bytes of the ``.tflite`` model; ``representative_images`` (uint8, N x H x W x 1) for int8."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantize!r}. Valid choices: {list(QUANTIZATIONS)}")
    if quantize == "int8" and (representative_images is None or len(representative_images) == 0):
        raise ValueError("Full int8 quantization needs calibration images (--calibration-data)")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    try:
        if quantize == "int8":
            return _full_int8(converter, representative_images, model)
        return converter.convert()
    except Exception as error:  # the converter raises many types, with MLIR dumps
        raise _conversion_error(error, quantize, model) from None


def _conversion_error(error, quantize, model):
    """A ConversionError naming the layers (and ops) the converter's message points at."""
    message = str(error)
    layers = failing_layers(message, model) if model is not None else []
    reasons = [re.sub(r"^.*error: (loc\(.*\)\)\): )?", "", line).strip()
               for line in message.splitlines() if "error:" in line]
    where = ", ".join(f"layer '{name}' (op {op})" for name, op in layers) or "an unidentified layer"
    reason = "; ".join(dict.fromkeys(r[:200] for r in reasons)) or message[:300]
    return ConversionError(f"TFLite conversion ({quantize}) failed at {where}: {reason}")
