"""Inference and training-step throughput of a Keras model on in-memory random batches.

The steps go through Keras's own compiled functions (``predict_on_batch``,
``train_on_batch``), which is what ``model.predict``/``model.fit`` run, so the
figures are the ones a user gets; data loading is measured separately
(``pipeline_speed``).
"""

import numpy as np

from keras_cxr.benchmark.timing import PeakMemory, median, timed_windows

MODES = ("infer", "train")


def random_batch(model, batch_size, seed=0):
    """Images in [0, 1] of the model's input shape and one-hot labels of its class count."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in model.input_shape[1:])
    images = rng.random((batch_size, *shape), dtype=np.float32)
    classes = int(model.output_shape[-1])
    labels = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch_size)]
    return images, labels


def compile_for_benchmark(model, jit_compile=False):
    """AdamW + cross-entropy, as the training recipes use; ``jit_compile`` turns XLA on."""
    import keras

    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4),
        loss=keras.losses.CategoricalCrossentropy(),
        jit_compile=jit_compile,
    )
    return model


def keras_step(model, mode, batch_size, seed=0):
    """A blocking zero-argument function running one ``mode`` step of ``batch_size`` images."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    images, labels = random_batch(model, batch_size, seed)
    if mode == "infer":
        return lambda: np.asarray(model.predict_on_batch(images))
    return lambda: float(np.asarray(model.train_on_batch(images, labels)).ravel()[0])


def measure_keras_model(model, mode, batch_size, windows=5, steps=1, warmup=1):
    """``{"images_per_second", "windows", "peak_rss_mb", "rss_increase_mb"}`` for one model and mode."""
    step = keras_step(model, mode, batch_size)
    with PeakMemory() as memory:
        rates = timed_windows(step, batch_size, windows=windows, steps=steps, warmup=warmup)
    return {
        "images_per_second": median(rates),
        "windows": [round(r, 3) for r in rates],
        "peak_rss_mb": memory.peak / 2**20,
        "rss_increase_mb": memory.increase / 2**20,
    }
