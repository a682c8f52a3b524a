"""ConvNeXt-T in keras_cxr vs timm's ``convnext_tiny`` under PyTorch, side by side on the CPU.

    python benchmarks/convnext_vs_timm.py [--keras applications convnext_tiny convnext_at]
        [--mode infer train] [--batch 16] [--size 224] [--threads 2] [--windows 5] [--jit]

All contenders run in one process with the same thread count, on the same
random batch, in alternating timed windows (A B C A B C ...; order reversed
every other window), after one warm-up step each; the figure is the median
images/second over the windows. Absolute figures on shared machines drift;
the ratios printed last are the steadier result.

Contenders: ``applications`` = ``keras.applications.ConvNeXtTiny`` (its
depthwise convolution is a grouped ``Conv2D``), ``convnext_tiny`` and
``convnext_at`` = the keras_cxr builders, ``timm`` = ``timm.create_model
("convnext_tiny")``. Training = one AdamW step on cross-entropy. PyTorch and
timm are not keras_cxr dependencies: without them only the Keras side runs.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

KERAS_CONTENDERS = ("applications", "convnext_tiny", "convnext_at")


def build_keras(name, num_classes, size):
    import keras

    from keras_cxr.models import build_model

    keras.utils.set_random_seed(0)
    if name == "applications":
        return keras.applications.ConvNeXtTiny(
            weights=None, include_top=True, classes=num_classes, input_shape=(size, size, 3)
        )
    return build_model(name, num_classes, input_shape=(size, size, 3))


def timm_steps(num_classes, size, batch, threads, channels_last=False):
    """(infer step, train step) for timm's convnext_tiny, or None without PyTorch/timm."""
    try:
        import timm
        import torch
    except ImportError as error:
        print(f"timm side skipped: {error}", file=sys.stderr)
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = timm.create_model("convnext_tiny", pretrained=False, num_classes=num_classes)
    images = torch.rand(batch, 3, size, size)
    labels = torch.randint(0, num_classes, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(images).softmax(-1).numpy()

    def train():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    versions = f"torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads"
    return {"infer": infer, "train": train, "versions": versions}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keras", nargs="+", default=list(KERAS_CONTENDERS), choices=KERAS_CONTENDERS)
    parser.add_argument("--no-timm", action="store_true", help="Keras contenders only")
    parser.add_argument("--mode", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1, help="steps per timed window")
    parser.add_argument("--jit", action="store_true", help="compile the Keras models with XLA (jit_compile=True)")
    parser.add_argument("--channels-last", action="store_true", help="timm in channels_last memory format")
    parser.add_argument("--num-classes", type=int, default=4)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()

    # PyTorch first: importing torchvision (via timm) after TensorFlow segfaults in one process.
    torch_side = None if args.no_timm else timm_steps(args.num_classes, args.size, args.batch, args.threads,
                                                      args.channels_last)

    from keras_cxr.benchmark import configure_threads, describe_environment
    from keras_cxr.benchmark.environment import format_environment
    from keras_cxr.benchmark.model_speed import compile_for_benchmark, keras_step
    from keras_cxr.benchmark.timing import interleaved_windows, median

    configure_threads(args.threads)
    described = describe_environment(batch_size=args.batch, threads=args.threads)
    print(format_environment(described) + f" | {args.size}x{args.size} | XLA {'on' if args.jit else 'off'}")
    models = {f"keras {name}": compile_for_benchmark(build_keras(name, args.num_classes, args.size), args.jit)
              for name in args.keras}
    if torch_side:
        print(torch_side["versions"])
    results = {"environment": described, "size": args.size, "jit_compile": args.jit, "modes": {}}
    for mode in args.mode:
        steps = {name: keras_step(model, mode, args.batch) for name, model in models.items()}
        if torch_side:
            steps["timm convnext_tiny"] = torch_side[mode]
        rates = interleaved_windows(steps, args.batch, windows=args.windows, steps=args.steps, warmup=1)
        medians = {name: median(r) for name, r in rates.items()}
        results["modes"][mode] = {"median_images_per_second": medians, "windows": rates}
        print(f"\n{mode}: images/s (median of {args.windows} alternating windows of {args.steps} step(s))")
        for name, value in medians.items():
            ratio = ""
            if torch_side and name != "timm convnext_tiny":
                ratio = f"   {value / medians['timm convnext_tiny']:.2f}x timm"
            windows = ", ".join(f"{r:.2f}" for r in rates[name])
            print(f"  {name:<26}{value:>8.2f}{ratio}   [{windows}]", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
