"""TFLite (LiteRT) conversion: float32, float16, dynamic-range int8, full int8.

Conversion goes through the SavedModel (the path TensorFlow supports for
Keras 3 models). A layer the converter cannot handle is reported by name,
not as a converter stack trace.
"""

import re

import numpy as np
import tensorflow as tf

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


class ConversionError(RuntimeError):
    """TFLite conversion failed; the message names the layers involved."""


_LOCATION = re.compile(r'fused\["([^"]+):", "([^"@]+)@')


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
            layer = None
            for part in scope.split("/"):
                for candidate in (part, re.sub(r"_\d+$", "", part)):
                    if candidate in known:
                        layer = candidate
            if layer and (layer, op) not in found:
                found.append((layer, op))
    return found


def convert(saved_model_dir, quantize="none", representative_images=None, model=None):
    """Bytes of the ``.tflite`` model; ``representative_images`` (uint8, N x H x W x 1) for int8."""
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"Unknown quantization {quantize!r}. Valid choices: {list(QUANTIZATIONS)}")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if representative_images is None or len(representative_images) == 0:
            raise ValueError("Full int8 quantization needs calibration images (--calibration-data)")

        def representative():
            for image in representative_images:
                yield [np.asarray(image, np.uint8)[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
    try:
        return converter.convert()
    except Exception as error:  # the converter raises many types, with MLIR dumps
        message = str(error)
        layers = failing_layers(message, model) if model is not None else []
        reasons = [re.sub(r"^.*error: (loc\(.*\)\)\): )?", "", line).strip()
                   for line in message.splitlines() if "error:" in line]
        where = ", ".join(f"layer '{name}' (op {op})" for name, op in layers) or "an unidentified layer"
        reason = "; ".join(dict.fromkeys(r[:200] for r in reasons)) or message[:300]
        raise ConversionError(f"TFLite conversion ({quantize}) failed at {where}: {reason}") from None
