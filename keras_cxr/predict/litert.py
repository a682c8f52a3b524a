"""Run a ``.tflite`` classifier with ai-edge-litert (no TensorFlow, no Keras)."""

import json
from collections import Counter
from pathlib import Path

import numpy as np

from keras_cxr.data.image_converter import exported_converter


class LiteRTModel:
    """A ``.tflite`` export of keras_cxr: uint8 grayscale in, probabilities out.

    One interpreter serves every call. Its input tensor is resized (and its
    tensors allocated) only when a batch's shape differs from the last one, so
    scoring a folder in batches of 32 allocates twice (full batches, then the
    last short one) instead of once per image.
    """

    def __init__(self, path, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TFLite model not found: {self.path}")
        self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.size = int(self.input["shape"][1])
        labels = self.path.parent / "labels.json"
        self.labels = json.loads(labels.read_text()) if labels.is_file() else None
        self.classes = self.labels["classes"] if self.labels else None
        self.num_classes = int(self.output["shape"][-1])
        self.converter = exported_converter(self.labels, self.size)  # file -> uint8 image, as in training
        self._allocated_shape = None

    def _ensure_shape(self, shape):
        """Resize the input tensor and allocate only when the batch shape changes (allocation is the slow part)."""
        shape = tuple(int(d) for d in shape)
        if shape != self._allocated_shape:
            self.interpreter.resize_tensor_input(self.input["index"], list(shape))
            self.interpreter.allocate_tensors()
            self._allocated_shape = shape

    def _dequantize(self, out):
        scale, zero = self.output["quantization"]
        out = out.astype(np.float64)
        return (out - zero) * scale if scale else out

    def predict_uint8(self, images):
        """uint8 (N, H, W, 1) -> float probabilities (N, k), the whole batch in one invocation."""
        images = np.ascontiguousarray(images, np.uint8)
        if images.ndim != 4:
            raise ValueError(f"Expected a uint8 batch (N, H, W, 1), got shape {images.shape}")
        self._ensure_shape(images.shape)
        self.interpreter.set_tensor(self.input["index"], images)
        self.interpreter.invoke()
        return self._dequantize(self.interpreter.get_tensor(self.output["index"]))

    def graph_summary(self):
        """Where the graph runs: see :func:`graph_summary`."""
        if self._allocated_shape is None:
            self._ensure_shape(self.input["shape"])
        return graph_summary(self.interpreter)


def graph_summary(interpreter):
    """``{"xnnpack_partitions", "ops_outside_xnnpack", "float_ops"}`` of an allocated interpreter.

    Why: an op LiteRT's XNNPACK delegate does not take runs on LiteRT's own
    kernels and splits the graph (an int8 graph can end up slower than its
    float32 original), and a float op inside an int8 graph costs a
    QUANTIZE/DEQUANTIZE pair. The Python API lists every node, delegated or
    not; the nodes a DELEGATE node replaced are found by walking back from its
    outputs to its inputs. Counts are ``{op name: n}``.
    """
    ops = interpreter._get_ops_details()
    dtypes = {d["index"]: d["dtype"] for d in interpreter.get_tensor_details()}
    producer = {t: op["index"] for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    delegated, partitions = set(), 0
    for node in (op for op in ops if op["op_name"] == "DELEGATE"):
        partitions += 1
        boundary, stack = set(node["inputs"]), list(node["outputs"])
        while stack:
            tensor = stack.pop()
            index = producer.get(tensor)
            if tensor in boundary or index is None or index in delegated:
                continue
            delegated.add(index)
            stack.extend(t for t in ops[index]["inputs"] if t >= 0)
    body = [op for op in ops if op["op_name"] != "DELEGATE"]
    floating = [op["op_name"] for op in body
                if any(dtypes.get(t) == np.float32 for t in (*op["inputs"], *op["outputs"]))]
    return {"xnnpack_partitions": partitions,
            "ops_outside_xnnpack": _count(op["op_name"] for op in body if op["index"] not in delegated),
            "float_ops": _count(floating)}


def _count(names):
    return dict(sorted(Counter(names).items()))
