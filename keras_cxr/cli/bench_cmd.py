"""``keras-cxr bench``: images/second, memory, input-pipeline and TFLite speed on this machine."""

import json
import os
import sys

HELP = "Measure inference/training images per second, peak memory, tf.data throughput and TFLite latency."


def add_parser(parser):
    parser.add_argument("--models", nargs="+", help="registered model names (default: all)")
    parser.add_argument("--mode", nargs="+", default=["infer", "train"],
                        choices=["infer", "train", "pipeline", "tflite"], help="what to measure (default infer train)")
    parser.add_argument("--batch-size", "--batch", dest="batch", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--input-size", "--image-size", dest="image_size", type=int,
                        help="square model input size (default: each model's own)")
    parser.add_argument("--threads", type=int, help="CPU threads for TensorFlow (default: all cores)")
    parser.add_argument("--windows", type=int, default=3, help="timed windows per measurement; the median is shown")
    parser.add_argument("--steps", type=int, default=1, help="steps per timed window")
    parser.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"], default=None,
                        help="Keras dtype policy (default float32)")
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA (slower on CPUs, see docs)")
    parser.add_argument("--augment", default="li_convnext", help="augmentation preset for --mode pipeline")
    parser.add_argument("--data", help="manifest or folder for --mode pipeline (default: synthetic 1024 px PNGs)")
    parser.add_argument("--quantize", nargs="+", help="quantisations for --mode tflite (default: all four)")
    parser.add_argument("--isolate", action="store_true",
                        help="measure each model in a fresh process: memory does not pile up over many models, a "
                             "model that runs out of memory is an error row (--against timm always does)")
    parser.add_argument("--against", choices=["timm"],
                        help="time each model beside its PyTorch twin in timm (needs torch and timm installed); "
                             "default models: all with a twin")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def _rate(row, key):
    value = row.get(key)
    return f"{value:.2f}" if value is not None else "-"


def format_results(results):
    """The tables ``keras-cxr bench`` prints."""
    from keras_cxr.benchmark.environment import format_environment

    lines = [format_environment(results["environment"])]
    pipeline = results.get("pipeline")
    if pipeline:
        lines.append(
            f"\npipeline ({pipeline['source']} -> {pipeline['image_size']}px, augment {pipeline['augment']}, "
            f"{pipeline['images']} images): cold {pipeline['cold_images_per_second']:.0f} img/s, "
            f"cached {pipeline['cached_images_per_second']:.0f} img/s"
        )
    models = results["models"]
    if any("infer_images_per_second" in r or "train_images_per_second" in r or "error" in r for r in models):
        lines.append(f"\n{'model':<24}{'input':<12}{'params':>13}{'infer img/s':>13}{'train img/s':>13}"
                     f"{'peak RSS MB':>13}")
        for row in models:
            if "error" in row:
                lines.append(f"{row['model']:<24}not measured: {row['error']}")
                continue
            lines.append(f"{row['model']:<24}{row['input']:<12}{row['params']:>13,d}"
                         f"{_rate(row, 'infer_images_per_second'):>13}{_rate(row, 'train_images_per_second'):>13}"
                         f"{row['peak_rss_mb']:>13.0f}")
        if pipeline:
            for row in models:
                train = row.get("train_images_per_second")
                if train and row["input"].startswith(f"{pipeline['image_size']}x{pipeline['image_size']}x"):
                    lines.append(f"  {row['model']}: pipeline delivers {pipeline['cold_images_per_second'] / train:.1f}x "
                                 f"(cold) / {pipeline['cached_images_per_second'] / train:.1f}x (cached) its training "
                                 f"step's images/s")
    tflite = [t for row in models for t in row.get("tflite", [])]
    if tflite:
        lines.append(f"\n{'model':<24}{'quantize':<10}{'size MB':>9}{'latency ms':>12}{'top-1 agree':>13}")
        for t in tflite:
            if "error" in t:
                lines.append(f"{t['model']:<24}{t['quantize']:<10}  failed: {t['error']}")
            else:
                lines.append(f"{t['model']:<24}{t['quantize']:<10}{t['size_mb']:>9.1f}{t['latency_ms']:>12.1f}"
                             f"{t['top1_agreement']:>13.1%}")
    return "\n".join(lines)


def run_against_timm(args):
    """``--against timm``: each model beside its timm twin, a row streamed as soon as it is measured."""
    from keras_cxr.benchmark.twins import MissingTwinLibraries, import_timm

    try:
        import_timm()  # before TensorFlow: torchvision crashes a process that loaded TensorFlow first
    except MissingTwinLibraries as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from keras_cxr.benchmark import configure_threads, describe_environment
    from keras_cxr.benchmark.environment import format_environment
    from keras_cxr.benchmark.twins import TIMM_TWINS, compare_with_timm, format_twin_table, twin_versions

    modes = [m for m in args.mode if m in ("infer", "train")]
    if not modes or len(modes) != len(args.mode):
        print("error: --against timm measures --mode infer and/or train only", file=sys.stderr)
        return 2
    threads = configure_threads(args.threads or os.cpu_count())
    environment = describe_environment(batch_size=args.batch, threads=threads)
    environment.update(twin_versions())
    print(format_environment(environment) + f" | torch {environment['torch']}, timm {environment['timm']}",
          flush=True)

    def progress(row):
        print(json.dumps(row), file=sys.stderr, flush=True)

    try:
        rows = compare_with_timm(args.models or list(TIMM_TWINS), progress=progress, modes=modes,
                                 batch_size=args.batch, image_size=args.image_size, threads=threads,
                                 windows=args.windows, steps=args.steps)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps({"environment": environment, "models": rows}, indent=2) if args.json
          else "\n" + format_twin_table(rows, modes))
    return 0


def run(args):
    if args.against:
        return run_against_timm(args)
    from keras_cxr.benchmark import configure_threads

    threads = configure_threads(args.threads)
    if args.precision:
        from keras_cxr.training.runtime import set_precision

        set_precision(args.precision)
    from keras_cxr.benchmark.runner import run_benchmarks
    from keras_cxr.models import list_models

    models = args.models or list_models()
    if args.models:
        from keras_cxr.models import get_spec

        for name in models:
            get_spec(name)  # unknown names fail before anything is measured
    def progress(result):  # each result as soon as it is measured, so a long run shows (and keeps) its progress
        print(json.dumps(result), file=sys.stderr, flush=True)

    results = run_benchmarks(
        models, modes=args.mode, batch_size=args.batch, image_size=args.image_size, threads=threads,
        augment=args.augment, data=args.data, precision=args.precision, progress=progress,
        windows=args.windows, steps=args.steps, jit_compile=args.jit_compile, quantizations=args.quantize,
        isolate=args.isolate,
    )
    print(json.dumps(results, indent=2) if args.json else "\n" + format_results(results))
    return 0
