"""TFLite file size, single-image latency, agreement and accuracy change, per quantisation.

The model goes through ``keras_cxr.export.export_model`` (uint8 grayscale edge
graph, parity check on labelled synthetic X-rays) and is timed with
ai-edge-litert on one image at a time: every quantisation's interpreter in
turn, ``runs`` rounds after warm-ups, median per quantisation (interleaving
keeps a busy machine from favouring whichever file ran first).

Agreement of randomly initialised weights says little: their outputs are near
ties that any rounding flips, and their activations are unlike a trained
network's, which is what int8 ranges are calibrated on. ``train_steps``
trains the model briefly on synthetic X-rays first (:func:`train_briefly`).

Run ``python -m keras_cxr.benchmark.tflite_speed --help`` for the command line.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def litert_latency_ms(path, threads=2, runs=20, warmup=3):
    """Median milliseconds of one ``invoke`` on a random uint8 image."""
    return litert_latencies_ms([path], threads=threads, runs=runs, warmup=warmup)[0]


def litert_latencies_ms(paths, threads=2, runs=20, warmup=3):
    """Median milliseconds of one ``invoke`` of each model, the models timed in turn, round after round."""
    from ai_edge_litert.interpreter import Interpreter

    interpreters = []
    for path in paths:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
        detail = interpreter.get_input_details()[0]
        image = np.random.default_rng(0).integers(0, 255, detail["shape"]).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], image)
        interpreters.append(interpreter)
    times = [[] for _ in paths]
    for i in range(runs + warmup):
        for interpreter, measured in zip(interpreters, times):
            start = time.perf_counter()
            interpreter.invoke()
            if i >= warmup:
                measured.append(time.perf_counter() - start)
    return [1000 * float(np.median(measured)) for measured in times]


def synthetic_batch(size, count, seed):
    """``(uint8 images (count, size, size, 1), class indices)`` of synthetic X-rays, classes in turn."""
    from keras_cxr.data.synthetic import CLASSES, synthetic_cxr

    labels = np.arange(count) % len(CLASSES)
    images = [np.round(synthetic_cxr(CLASSES[k], size, seed=[seed, i])[0] * 255) for i, k in enumerate(labels)]
    return np.stack(images).astype(np.uint8)[..., None], labels


def train_briefly(model, steps, batch_size=8, learning_rate=1e-3, seed=0):
    """Fit ``model`` (the synthetic classes as outputs) for ``steps`` batches of synthetic X-rays.

    Then batch-norm statistics are re-estimated (:func:`reestimate_batch_norm`):
    a few dozen steps move the moving averages only part of the way, and an
    inference graph built on them predicts one class.
    """
    import keras

    size, channels = int(model.input_shape[1]), int(model.input_shape[-1])
    images, labels = synthetic_batch(size, min(max(steps * batch_size, 64), 256), seed)
    x = images.astype("float32") / 255.0
    x = np.repeat(x, 3, axis=-1) if channels == 3 else x
    model.compile(keras.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", jit_compile=False)
    order = np.random.default_rng(seed).permutation(steps * batch_size) % len(images)
    for step in range(steps):
        chosen = order[step * batch_size:(step + 1) * batch_size]
        model.train_on_batch(x[chosen], labels[chosen])
    reestimate_batch_norm(model, x[:64])
    return model


def reestimate_batch_norm(model, images, batch_size=16):
    """Set every BatchNormalization's moving mean/variance to the average of its batch statistics on ``images``.

    One forward pass per batch in training mode, momentum k/(k+1) at the k-th
    batch so the moving values end as the plain average (memory stays one
    batch). Dropout is switched off meanwhile: EfficientNet's drop-connect
    would otherwise give statistics of a network inference never runs.
    """
    import keras

    layers = list(model._flatten_layers())
    norms = [layer for layer in layers if isinstance(layer, keras.layers.BatchNormalization)]
    dropouts = [layer for layer in layers if isinstance(layer, keras.layers.Dropout)]
    saved = [layer.momentum for layer in norms], [layer.rate for layer in dropouts]
    for layer in dropouts:
        layer.rate = 0.0
    for k, start in enumerate(range(0, len(images), batch_size)):
        for layer in norms:
            layer.momentum = k / (k + 1)
        model(images[start:start + batch_size], training=True)
    for layer, momentum in zip(norms, saved[0]):
        layer.momentum = momentum
    for layer, rate in zip(dropouts, saved[1]):
        layer.rate = rate


def measure_tflite(model, name, quantizations=QUANTIZATIONS, threads=2, runs=20, class_names=None, train_steps=0,
                   parity_images=100, learning_rate=1e-3):
    """One row per quantisation: size, latency, agreement and accuracy/AUC change, or ``error``.

    ``train_steps``: train on synthetic X-rays first (:func:`train_briefly`); the
    model's outputs are then the synthetic classes, so the parity images'
    labels give the accuracy and macro-AUC deltas.
    """
    from keras_cxr.data.synthetic import CLASSES
    from keras_cxr.export import export_model
    from keras_cxr.models.loading import LoadedModel

    classes = int(model.output_shape[-1])
    if train_steps:
        train_briefly(model, train_steps, learning_rate=learning_rate)
        class_names = list(CLASSES)
    class_names = class_names or [f"class_{i}" for i in range(classes)]
    loaded = LoadedModel(model, list(class_names), name, Path(name))
    rows, exported = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for quantize in quantizations:
            out = Path(tmp) / quantize / "model.tflite"
            row = {"model": name, "quantize": quantize, "train_steps": int(train_steps)}
            rows.append(row)
            try:
                report = export_model(loaded, out, quantize=quantize, parity_images=parity_images)
            except Exception as error:  # a failed conversion or parity check is a result to report
                row["error"] = str(error).splitlines()[0][:300]
                continue
            exported.append((row, out))
            row.update(_report_figures(report))
        latencies = litert_latencies_ms([out for _, out in exported], threads=threads, runs=runs)
        for (row, _), latency in zip(exported, latencies):
            row["latency_ms"] = latency
    return rows


def _report_figures(report):
    """The row's share of an export report: size, agreement, metric deltas, where the graph runs."""
    parity = report["parity"]
    return {"size_mb": report["size_bytes"] / 1e6, "top1_agreement": parity["top1_agreement"],
            "max_abs_prob_diff": parity["max_abs_prob_diff"], "parity_images": parity["images"],
            "largest_changed_margin": parity["largest_changed_margin"],
            "accuracy_delta": (parity.get("accuracy") or {}).get("delta"),
            "macro_auc_delta": (parity.get("macro_auc") or {}).get("delta"),
            "keras_accuracy": (parity.get("accuracy") or {}).get("keras"),
            "xnnpack_partitions": report["graph"]["xnnpack_partitions"],
            "ops_outside_xnnpack": report["graph"]["ops_outside_xnnpack"]}


def format_rows(rows):
    """A table of :func:`measure_tflite` rows."""
    def signed(value, scale=100.0):
        return "-" if value is None else f"{value * scale:+.1f}"

    lines = [f"{'model':<20}{'quantize':<10}{'size MB':>9}{'latency ms':>12}{'top-1 agree':>13}{'max |dp|':>10}"
             f"{'changed <=':>11}{'d acc pp':>10}{'d AUC pp':>10}  outside XNNPACK"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['model']:<20}{row['quantize']:<10}  failed: {row['error']}")
            continue
        outside = ", ".join(f"{op} x{n}" for op, n in row["ops_outside_xnnpack"].items()) or "-"
        lines.append(f"{row['model']:<20}{row['quantize']:<10}{row['size_mb']:>9.1f}{row['latency_ms']:>12.1f}"
                     f"{row['top1_agreement']:>13.1%}{row['max_abs_prob_diff']:>10.3f}"
                     f"{row['largest_changed_margin']:>11.2f}"
                     f"{signed(row['accuracy_delta']):>10}{signed(row['macro_auc_delta']):>10}  {outside}")
    return "\n".join(lines)


def main(argv=None):
    """``python -m keras_cxr.benchmark.tflite_speed``: the TFLite rows of briefly trained models."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", required=True, help="registered model names")
    parser.add_argument("--quantize", nargs="+", default=list(QUANTIZATIONS), choices=QUANTIZATIONS)
    parser.add_argument("--train-steps", type=int, default=30, help="synthetic training steps first (0: random)")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="Adam learning rate of the synthetic training (ConvNeXt from scratch: 1e-4)")
    parser.add_argument("--image-size", type=int, help="square input size (default: each model's own)")
    parser.add_argument("--threads", type=int, default=2, help="LiteRT threads (default 2)")
    parser.add_argument("--runs", type=int, default=20, help="timed invocations per quantisation")
    parser.add_argument("--parity-images", type=int, default=100, help="labelled synthetic parity images")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    import keras

    from keras_cxr.data.synthetic import CLASSES
    from keras_cxr.models import build_model, get_spec

    rows = []
    for name in args.models:
        keras.utils.set_random_seed(0)
        size = (args.image_size,) * 2 if args.image_size else get_spec(name).default_input_shape[:2]
        model = build_model(name, len(CLASSES), input_shape=(*size, 3))
        rows += measure_tflite(model, name, args.quantize, threads=args.threads, runs=args.runs,
                               train_steps=args.train_steps, parity_images=args.parity_images,
                               learning_rate=args.learning_rate)
        del model
        keras.backend.clear_session()
    print(json.dumps(rows, indent=2) if args.json else format_rows(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
