"""``keras-cxr bench``: every requested model through every requested measurement.

Models are built at their default input size (or ``image_size``) with random
weights; nothing is downloaded. Inference and training use in-memory random
batches through Keras's compiled functions; ``pipeline`` measures tf.data on
files; ``tflite`` exports and times each quantisation.
"""

import gc
import time

from keras_cxr.benchmark.environment import describe_environment
from keras_cxr.benchmark.timing import PeakMemory

MODES = ("infer", "train", "pipeline", "tflite")


def _accelerator_peak_mb():
    """Peak accelerator memory since the last reset, in MB, or None on the CPU."""
    import keras

    try:
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
                tf.config.experimental.reset_memory_stats("GPU:0")
                return peak
        elif keras.backend.backend() == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return device.memory_stats()["peak_bytes_in_use"] / 2**20
        elif keras.backend.backend() == "torch":
            import torch

            if torch.cuda.is_available():
                peak = torch.cuda.max_memory_allocated() / 2**20
                torch.cuda.reset_peak_memory_stats()
                return peak
    except (KeyError, RuntimeError, ValueError):
        return None
    return None


def build_benchmark_model(name, image_size, num_classes, channels):
    """``name`` with random weights at ``image_size`` (default: the model's own input size)."""
    from keras_cxr.models import build_model, get_spec

    if image_size:
        return build_model(name, num_classes, input_shape=(image_size, image_size, channels))
    default = get_spec(name).default_input_shape
    return build_model(name, num_classes, input_shape=(*default[:2], channels))


def bench_model(name, modes=("infer", "train"), batch_size=16, image_size=None, num_classes=4, channels=3,
                windows=3, steps=1, jit_compile=False, tflite_threads=2, tflite_runs=20, quantizations=None):
    """One result dict for ``name``: images/second per mode, peak memory, TFLite rows."""
    import keras

    from keras_cxr.benchmark.model_speed import compile_for_benchmark, measure_keras_model
    from keras_cxr.benchmark.tflite_speed import QUANTIZATIONS, measure_tflite

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    result = {"model": name}
    with PeakMemory() as memory:
        model = build_benchmark_model(name, image_size, num_classes, channels)
        result["input"] = "x".join(str(int(d)) for d in model.input_shape[1:])
        result["params"] = int(model.count_params())
        compile_for_benchmark(model, jit_compile=jit_compile)
        _accelerator_peak_mb()
        for mode in ("infer", "train"):
            if mode in modes:
                measured = measure_keras_model(model, mode, batch_size, windows=windows, steps=steps)
                result[f"{mode}_images_per_second"] = measured["images_per_second"]
                result[f"{mode}_windows"] = measured["windows"]
                accelerator = _accelerator_peak_mb()
                if accelerator is not None:
                    result[f"{mode}_accelerator_peak_mb"] = accelerator
    result["peak_rss_mb"] = memory.peak / 2**20
    result["rss_increase_mb"] = memory.increase / 2**20
    if "tflite" in modes:
        # A fresh build with the same seed: training steps on random data would have moved the
        # batch-norm statistics, and the export's memory would blur the figures above.
        del model
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = build_benchmark_model(name, image_size, num_classes, channels)
        result["tflite"] = measure_tflite(model, name, quantizations or QUANTIZATIONS, threads=tflite_threads,
                                          runs=tflite_runs)
    del model
    keras.backend.clear_session()
    gc.collect()
    result["seconds"] = round(time.perf_counter() - started, 1)  # build, compile, warm-ups and windows
    return result


def _bench_isolated(name, options, threads, precision):
    """:func:`bench_model` in a fresh process; a model that fails or runs out of memory is an ``error`` row."""
    from keras_cxr.benchmark.isolation import IsolatedProcessError, run_isolated

    try:
        return run_isolated("keras_cxr.benchmark.runner:bench_model", {"name": name, **options}, threads=threads,
                            precision=precision)
    except IsolatedProcessError as error:
        return {"model": name, "error": str(error)}


def run_benchmarks(models, modes=("infer", "train"), batch_size=16, image_size=None, threads=None, augment=None,
                   data=None, precision=None, progress=None, isolate=False, **options):
    """``{"environment", "models": [...], "pipeline": {...}}``; ``progress(result)`` after each model.

    ``isolate``: measure each model in a fresh process (:mod:`keras_cxr.benchmark.isolation`), with
    ``threads`` and ``precision`` set there (``keras-cxr bench --isolate``).
    """
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"Unknown bench mode(s) {unknown}. Valid choices: {', '.join(MODES)}")
    results = {"environment": describe_environment(batch_size=batch_size, threads=threads, precision=precision),
               "models": []}
    if "pipeline" in modes:
        from keras_cxr.benchmark.pipeline_speed import measure_pipeline_on

        size = image_size or 224
        pipeline = measure_pipeline_on(data, image_size=size, batch_size=batch_size, augment=augment or "li_convnext")
        results["pipeline"] = pipeline
        if progress:
            progress({"pipeline": pipeline})
    for name in models:
        if not set(modes) & {"infer", "train", "tflite"}:
            break
        if isolate:
            result = _bench_isolated(name, dict(options, modes=modes, batch_size=batch_size, image_size=image_size),
                                     threads, precision)
        else:
            result = bench_model(name, modes=modes, batch_size=batch_size, image_size=image_size, **options)
        results["models"].append(result)
        if progress:
            progress(result)
    return results
