"""Every keras_cxr network that timm also implements, timed beside its PyTorch twin on this machine.

    python benchmarks/vs_timm.py [--models convnext_at dpn92_se ...] [--mode infer train] [--batch 16]
        [--image-size 224] [--threads 2] [--windows 3] [--markdown docs/BENCHMARKS.md]

Needs `pip install torch torchvision timm` (not keras_cxr dependencies). Both
frameworks run in one fresh process per model with the same thread count, on random
in-memory batches at each model's default input, in alternating timed windows
(`keras_cxr.benchmark.twins`); timm runs in both memory layouts and the ratio
is taken against the faster. Each row is printed as soon as it is measured.
`--markdown FILE` writes the table, the command, the CPU and the versions into
FILE between the `<!-- vs-timm:begin -->` / `<!-- vs-timm:end -->` markers.
Same measurement as `keras-cxr bench --against timm`.
"""

import argparse
import os
import re
import shlex
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BEGIN, END = "<!-- vs-timm:begin -->", "<!-- vs-timm:end -->"


def parse_args(argv=None):
    from keras_cxr.benchmark.twins import TIMM_TWINS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(TIMM_TWINS), choices=list(TIMM_TWINS))
    parser.add_argument("--mode", nargs="+", default=["infer", "train"], choices=["infer", "train"])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--image-size", type=int, help="square input (default: each model's own)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--steps", type=int, default=1, help="steps per timed window")
    parser.add_argument("--markdown", type=Path, help="write the table into this file between the markers")
    return parser.parse_args(argv)


def stream_line(row, modes):
    parts = [f"{row['model']:<24} vs {row['twin']:<22}"]
    if "error" in row:
        return f"{parts[0]} | not measured: {row['error']}"
    for mode in modes:
        parts.append(f"{mode} {row[f'{mode}_images_per_second']:7.2f} vs {row[f'{mode}_twin_images_per_second']:7.2f}"
                     f" img/s = {row[f'{mode}_ratio']:.2f}x")
    return " | ".join(parts)


def markdown_section(rows, environment, args, argv):
    from keras_cxr.benchmark.environment import format_environment
    from keras_cxr.benchmark.twins import format_twin_table

    command = "python benchmarks/vs_timm.py " + shlex.join(argv)
    return "\n".join([
        BEGIN,
        f"`{command.strip()}`",
        "",
        f"{format_environment(environment)}; torch {environment['torch']}, timm {environment['timm']}; "
        f"{args.windows} alternating one-step windows per contender after a warm-up step, medians in images/s; "
        "training = one AdamW step on cross-entropy; ratio = keras_cxr / the faster of timm's two memory layouts.",
        "",
        format_twin_table(rows, args.mode),
        END,
    ])


def write_section(path, section):
    """Replace the marked section of ``path`` (or append it) without touching the rest of the file."""
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    from keras_cxr.benchmark.twins import import_timm

    import_timm()  # before TensorFlow: torchvision crashes a process that loaded TensorFlow first
    args = parse_args(argv)
    from keras_cxr.benchmark import configure_threads, describe_environment
    from keras_cxr.benchmark.environment import format_environment
    from keras_cxr.benchmark.twins import compare_with_timm, format_twin_table, twin_versions

    threads = configure_threads(args.threads)
    environment = describe_environment(batch_size=args.batch, threads=threads)
    environment.update(twin_versions())
    print(format_environment(environment) + f" | torch {environment['torch']}, timm {environment['timm']}",
          flush=True)
    rows = compare_with_timm(args.models, progress=lambda row: print(stream_line(row, args.mode), flush=True),
                             modes=args.mode, batch_size=args.batch, image_size=args.image_size, threads=threads,
                             windows=args.windows, steps=args.steps)
    print("\n" + format_twin_table(rows, args.mode))
    if args.markdown:
        write_section(args.markdown, markdown_section(rows, environment, args, argv))
        print(f"\nwritten to {args.markdown}")


if __name__ == "__main__":
    main()
