"""Run a model over a manifest split: probabilities aligned with the manifest rows."""

import numpy as np


def predict_probabilities(model, dataset, tta=False):
    """Softmax outputs for every image of ``dataset`` in order; ``tta`` averages with the flipped image."""
    import tensorflow as tf

    outputs = []
    for images, _ in dataset:
        probs = model(images, training=False)
        if tta:
            probs = (probs + model(tf.image.flip_left_right(images), training=False)) / 2.0
        outputs.append(np.asarray(probs, dtype=np.float64))
    return np.concatenate(outputs, axis=0) if outputs else np.zeros((0, int(model.output_shape[-1])))


def measure_throughput(model, batch_sizes=(1, 32), repeats=5, warmup=2):
    """Images/second of ``model`` on random inputs at each batch size (median of ``repeats`` timed calls)."""
    from keras_cxr.benchmark.timing import median, timed_windows

    shape = tuple(int(d) for d in model.input_shape[1:])
    result = {}
    for batch in batch_sizes:
        x = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
        rates = timed_windows(lambda: np.asarray(model(x, training=False)), batch, windows=repeats, warmup=warmup)
        result[f"batch_{batch}"] = median(rates)
    return result


def score_manifest(loaded, manifest, batch_size=32, tta=False, bad_file_report=None):
    """(class indices of the manifest's labels, the model's probabilities), one pass in manifest order.

    ``loaded``: a :class:`~keras_cxr.models.loading.LoadedModel`; its own preprocessing reads the files.
    The probabilities are the network's own (uncalibrated): callers apply the run's temperature.
    """
    from keras_cxr.data.pipeline import make_dataset

    height, _, channels = loaded.input_shape
    dataset = make_dataset(manifest, image_size=height, channels=channels, batch_size=batch_size, shuffle=False,
                           converter=loaded.converter, cache=None,  # one pass: nothing to reuse
                           bad_file_report=bad_file_report)  # written only if a file is bad
    labels = np.array([loaded.classes.index(r["label"]) for r in manifest.records])
    return labels, predict_probabilities(loaded.model, dataset, tta=tta)
