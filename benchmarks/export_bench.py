"""TFLite export benchmark: file size, single-image CPU latency and top-1 agreement with Keras.

    python benchmarks/export_bench.py [--models convnext_at resnet50 ...] [--threads 2] [--runs 20]

Each model is built at its default input size with random weights (no weights
can be downloaded here), exported through ``keras_cxr.export.export_model`` in
every quantisation, and timed with ai-edge-litert on single uint8 images
(median of ``--runs`` invocations after 3 warm-ups, ``--threads`` threads).
Agreement is on 32 synthetic X-rays; with random weights near-ties make it a
lower bound of what a trained model shows.
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def latency_ms(path, threads, runs):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    image = np.random.default_rng(0).integers(0, 255, detail["shape"], dtype=np.uint8)
    times = []
    for i in range(runs + 3):
        interpreter.set_tensor(detail["index"], image)
        start = time.perf_counter()
        interpreter.invoke()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["vgg80_multibranch", "mobilenet", "efficientnet_b0",
                                                        "resnet50", "convnext_at", "dpn92_se"])
    parser.add_argument("--quantize", nargs="+", default=["none", "float16", "dynamic", "int8"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import keras

    from keras_cxr.export import export_model
    from keras_cxr.models import build_model
    from keras_cxr.models.loading import LoadedModel

    rows = []
    print(f"{'model':<20}{'quantize':<10}{'size MB':>9}{'latency ms':>12}{'top-1 agree':>13}   "
          f"(CPU, {args.threads} threads, batch 1, median of {args.runs})")
    for name in args.models:
        keras.utils.set_random_seed(0)
        model = build_model(name, 4)
        loaded = LoadedModel(model, ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"], name, Path(name))
        with tempfile.TemporaryDirectory() as tmp:
            for quantize in args.quantize:
                out = Path(tmp) / quantize / "model.tflite"
                try:
                    report = export_model(loaded, out, quantize=quantize)
                except Exception as error:  # a failed parity check is a result to report
                    print(f"{name:<20}{quantize:<10} failed: {error}")
                    continue
                row = {"model": name, "quantize": quantize, "size_mb": report["size_bytes"] / 1e6,
                       "latency_ms": latency_ms(out, args.threads, args.runs),
                       "top1_agreement": report["parity"]["top1_agreement"]}
                rows.append(row)
                print(f"{name:<20}{quantize:<10}{row['size_mb']:>9.1f}{row['latency_ms']:>12.1f}"
                      f"{row['top1_agreement']:>13.1%}", flush=True)
        keras.backend.clear_session()
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
