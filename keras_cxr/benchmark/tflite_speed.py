"""TFLite file size, single-image latency and top-1 agreement, per quantisation.

The model goes through ``keras_cxr.export.export_model`` (uint8 grayscale edge
graph, parity check on synthetic X-rays) and is timed with ai-edge-litert on
one image at a time, median of ``runs`` invocations after 3 warm-ups.
"""

import tempfile
import time
from pathlib import Path

import numpy as np

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def litert_latency_ms(path, threads=2, runs=20, warmup=3):
    """Median milliseconds of one ``invoke`` on a random uint8 image."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).integers(0, 255, detail["shape"], dtype=np.uint8)
    times = []
    for i in range(runs + warmup):
        interpreter.set_tensor(detail["index"], image)
        start = time.perf_counter()
        interpreter.invoke()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def measure_tflite(model, name, quantizations=QUANTIZATIONS, threads=2, runs=20, class_names=None):
    """One row per quantisation: ``size_mb``, ``latency_ms``, ``top1_agreement`` or ``error``."""
    from keras_cxr.export import export_model
    from keras_cxr.models.loading import LoadedModel

    classes = int(model.output_shape[-1])
    class_names = class_names or [f"class_{i}" for i in range(classes)]
    loaded = LoadedModel(model, list(class_names), name, Path(name))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in quantizations:
            out = Path(tmp) / quantize / "model.tflite"
            row = {"model": name, "quantize": quantize}
            try:
                report = export_model(loaded, out, quantize=quantize)
            except Exception as error:  # a failed conversion or parity check is a result to report
                row["error"] = str(error).splitlines()[0][:300]
                rows.append(row)
                continue
            row.update(
                size_mb=report["size_bytes"] / 1e6,
                latency_ms=litert_latency_ms(out, threads=threads, runs=runs),
                top1_agreement=report["parity"]["top1_agreement"],
            )
            rows.append(row)
    return rows
