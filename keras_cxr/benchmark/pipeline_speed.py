"""Input-pipeline throughput: tf.data images/second for decode + resize + augment, cold and cached.

"cold" reads and decodes every file in each pass (the first epoch, or every
epoch without a cache); "cached" is a pass over ``cache="memory"`` after the
cache filled (decoding done once; augmentation still runs). Training never
waits on data when the cold or cached rate, whichever the run uses, exceeds
the training step's images/second (the goal: 5x the training step).
"""

import tempfile
import time


def images_per_second(dataset):
    """Images/second of one full pass over ``dataset``."""
    start, count = time.perf_counter(), 0
    for images, _ in dataset:
        count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def synthetic_source(per_class=32, source_size=1024, seed=0, folder=None):
    """A folder of synthetic full-size X-rays (PNG) with its manifest, for a pipeline benchmark."""
    from keras_cxr.data import generate_dataset

    folder = folder or tempfile.mkdtemp(prefix="keras_cxr_bench_")  # the caller removes it
    generate_dataset(folder, per_class=per_class, size=source_size, seed=seed)
    return folder


def measure_pipeline_on(data=None, image_size=224, batch_size=32, augment="li_convnext", per_class=32,
                        source_size=1024):
    """:func:`measure_pipeline` on ``data``, or on synthetic PNGs in a temporary folder that is removed after."""
    if data is not None:
        result = measure_pipeline(data, image_size=image_size, batch_size=batch_size, augment=augment)
        source = str(data)
    else:
        with tempfile.TemporaryDirectory(prefix="keras_cxr_bench_") as folder:
            synthetic_source(per_class=per_class, source_size=source_size, folder=folder)
            result = measure_pipeline(folder, image_size=image_size, batch_size=batch_size, augment=augment)
        source = f"synthetic {source_size}x{source_size} PNG"
    return dict(result, source=source, image_size=image_size, augment=augment)


def measure_pipeline(source, image_size=224, batch_size=32, augment="li_convnext"):
    """``{"cold_images_per_second", "cached_images_per_second", "images"}`` for ``make_dataset(source)``."""
    from keras_cxr.data.pipeline import make_dataset

    options = dict(image_size=image_size, batch_size=batch_size, augment=augment, shuffle=True)
    cold = make_dataset(source, cache=None, **options)
    images_per_second(cold.take(2))  # traces the map functions once
    cold_rate = images_per_second(cold)
    cached = make_dataset(source, cache="memory", **options)
    images = 0
    for batch, _ in cached:  # fills the cache
        images += int(batch.shape[0])
    cached_rate = images_per_second(cached)
    return {"cold_images_per_second": cold_rate, "cached_images_per_second": cached_rate, "images": images}
