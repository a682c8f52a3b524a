"""Run a ``.tflite`` classifier with ai-edge-litert (no TensorFlow, no Keras)."""

import json
from pathlib import Path

import numpy as np

from keras_cxr.data.image_converter import exported_converter


class LiteRTModel:
    """A ``.tflite`` export of keras_cxr: uint8 grayscale in, probabilities out."""

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
        self.converter = exported_converter(self.labels, self.size)  # file -> uint8 image, as in training

    def predict_uint8(self, images):
        """uint8 (N, H, W, 1) -> float probabilities (N, k), one image at a time."""
        results = []
        for image in np.asarray(images, np.uint8):
            self.interpreter.resize_tensor_input(self.input["index"], [1, *image.shape])
            self.interpreter.allocate_tensors()
            self.interpreter.set_tensor(self.input["index"], image[None])
            self.interpreter.invoke()
            out = self.interpreter.get_tensor(self.output["index"])[0].astype(np.float64)
            scale, zero = self.output["quantization"]
            results.append((out - zero) * scale if scale else out)
        return np.stack(results)
