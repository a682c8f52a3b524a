"""Input-pipeline throughput: images/second for decode + resize + augment, cold and cached.

    python benchmarks/pipeline_bench.py [--data DIR_OR_MANIFEST] [--size 224] [--augment li_convnext]

Without --data it generates a synthetic set (``--source-size`` pixels square,
PNG) in a temporary folder. "cold" reads and decodes every file each epoch;
"cached" is the second pass over ``cache="memory"`` (decoding done once).
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def images_per_second(dataset, epochs=1):
    start, count = time.perf_counter(), 0
    for _ in range(epochs):
        for images, _ in dataset:
            count += int(images.shape[0])
    return count / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="manifest or folder (default: synthetic)")
    parser.add_argument("--per-class", type=int, default=64)
    parser.add_argument("--source-size", type=int, default=1024, help="synthetic image size (full-size X-rays)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--augment", nargs="+", default=["none", "li_convnext", "cheng_dpn", "zhong2020"])
    args = parser.parse_args()

    import tensorflow as tf

    from keras_cxr.data import generate_dataset
    from keras_cxr.data.pipeline import make_dataset

    source = args.data
    if source is None:
        source = tempfile.mkdtemp(prefix="kcxr_bench_")
        generate_dataset(source, per_class=args.per_class, size=args.source_size, seed=0)
    print(f"tensorflow {tf.__version__}, {os.cpu_count()} CPU cores, data: {source}, output {args.size}x{args.size}, "
          f"batch {args.batch}")
    print(f"{'augment':<16}{'cold img/s':>12}{'cached img/s':>14}")
    for augment in args.augment:
        cold = make_dataset(source, image_size=args.size, batch_size=args.batch, augment=augment, shuffle=True)
        images_per_second(cold.take(2))  # trace functions once
        cold_rate = images_per_second(cold)
        cached = make_dataset(source, image_size=args.size, batch_size=args.batch, augment=augment, shuffle=True,
                              cache="memory")
        images_per_second(cached)  # fills the cache
        cached_rate = images_per_second(cached)
        print(f"{augment:<16}{cold_rate:>12.0f}{cached_rate:>14.0f}")


if __name__ == "__main__":
    main()
