"""Peak memory and throughput of ``keras-cxr predict`` and ``keras-cxr explain`` over thousands of X-rays.

This
1. writes ``--images`` synthetic ``--size`` px X-rays (PNG, 8-bit) into ``DIR/images``:
   ``--unique`` distinct ones from :func:`keras_cxr.data.synthetic.synthetic_cxr`
   (about 0.9 s each at 1024 px), repeated as byte copies up to ``--images``
   files, since every file is decoded and converted in full either way;
2. builds an untrained ``--model`` at ``--input-size`` (nothing is trained: the
   figures are about reading, converting and scoring images, not accuracy), saves
   it as a run directory and exports it to ``.tflite`` with ``keras-cxr export``;
3. runs each command in a child process and reads that child's peak RSS
   (``os.wait4``'s ``ru_maxrss``) and its wall time: ``predict`` with the Keras
   model and with the ``.tflite`` export (``--out`` CSV), ``explain --method
   gradcam`` over all images (or ``--explain-images``) and over ``--compare-images``;
   each also on one image, whose time is the start-up (imports, model load);
4. with ``--before-src DIR`` (a ``keras_cxr`` source tree of an earlier commit,
   e.g. ``git archive 42c3ae2 keras_cxr | tar -x -C DIR``), runs the same
   commands with that code (``PYTHONPATH=DIR``) for a before/after table;
5. prints a Markdown table and writes ``results.json`` in ``DIR``.

Usage::

    python benchmarks/predict_explain_memory.py --dir /tmp/pem --before-src /tmp/before

Outputs of ``explain`` (a 4 MB ``.npy`` map per 1024 px image) are deleted
after each step; ``--keep`` keeps everything.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLASSES = ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]


def make_images(folder, count, size, unique):
    """``count`` PNGs: ``unique`` distinct synthetic X-rays, then byte copies of them (kept if already there)."""
    import numpy as np
    from PIL import Image

    from keras_cxr.data.synthetic import synthetic_cxr

    folder.mkdir(parents=True, exist_ok=True)
    names = [folder / f"xray_{i:05d}.png" for i in range(count)]
    for i, path in enumerate(names[:unique]):
        if not path.is_file():
            image, _ = synthetic_cxr(CLASSES[i % len(CLASSES)], size, seed=i)
            Image.fromarray(np.round(image * 255).astype(np.uint8)).save(path)
    for i, path in enumerate(names[unique:], start=unique):
        if not path.is_file():
            shutil.copyfile(names[i % unique], path)
    return names


def make_model(run_dir, name, input_size):
    """An untrained ``name`` saved as a run directory (model.keras + classes.json), and its .tflite export."""
    tflite = run_dir / "model.tflite"
    if tflite.is_file():
        return run_dir, tflite
    import keras

    from keras_cxr.models import build_model

    keras.utils.set_random_seed(0)
    run_dir.mkdir(parents=True, exist_ok=True)
    build_model(name, len(CLASSES), input_shape=(input_size, input_size, 3)).save(run_dir / "model.keras")
    (run_dir / "classes.json").write_text(json.dumps(CLASSES))
    subprocess.run([sys.executable, "-m", "keras_cxr.cli", "export", "--model", str(run_dir), "--out", str(tflite)],
                   check=True, cwd=run_dir, stdout=subprocess.DEVNULL)
    return run_dir, tflite


def measure(step, command, images, cwd, pythonpath=None):
    """Run ``command`` in a child process; its wall time and peak RSS (ru_maxrss of that child alone)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    log = Path(cwd) / f"{step.replace(' ', '_')}.log"
    start = time.perf_counter()
    with open(log, "w") as stderr:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{step} failed with exit code {child.returncode}; see {log}")
    result = {"step": step, "images": images, "wall_s": round(wall, 1),
              "peak_rss_mb": round(usage.ru_maxrss / 1024), "command": " ".join(map(str, command))}
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def cli(*args):
    return [sys.executable, "-m", "keras_cxr.cli", *map(str, args)]


def image_subset(work, names, count):
    """A folder of the first ``count`` images (symbolic links), for runs over fewer images."""
    folder = work / f"subset_{count}"
    folder.mkdir(exist_ok=True)
    for path in names[:count]:
        link = folder / path.name
        if not link.exists():
            link.symlink_to(path)
    return folder


def commands(work, run_dir, tflite, folder, before):
    """(step, command) pairs for one image set; the earlier code's CLI has no --out or --batch-size."""
    out = work / "outputs"
    if before:
        return [("predict keras", cli("predict", "--model", run_dir, folder)),
                ("predict tflite", cli("predict", "--model", tflite, folder)),
                ("explain gradcam", cli("explain", "--model", run_dir, "--out", out / "explain", folder))]
    return [("predict keras", cli("predict", "--model", run_dir, "--out", out / "keras.csv", "--overwrite", folder)),
            ("predict tflite", cli("predict", "--model", tflite, "--out", out / "tflite.csv", "--overwrite", folder)),
            ("explain gradcam", cli("explain", "--model", run_dir, "--out", out / "explain", folder))]


def run_set(work, run_dir, tflite, folder, count, label, before=None, steps=None, keep=False):
    """Measure every command of one image set; deletes outputs between steps unless ``keep``."""
    results = []
    for step, command in commands(work, run_dir, tflite, folder, before):
        if steps and step.split()[0] not in steps:
            continue
        result = measure(f"{label} {step} {count}", command, count, work, pythonpath=before)
        results.append({**result, "code": label, "what": step})
        if not keep:
            shutil.rmtree(work / "outputs", ignore_errors=True)
    return results


def table(results):
    """Markdown rows: throughput is images over wall time, start-up (one-image run of the same code) excluded."""
    startup = {(r["code"], r["what"]): r["wall_s"] for r in results if r["images"] == 1}
    lines = ["| code | command | images | wall (s) | images/s | start-up (s) | images/s after start-up "
             "| peak RSS (MB) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["images"] == 1:
            continue
        base = startup.get((r["code"], r["what"]))
        rate = f"{r['images'] / (r['wall_s'] - base):.1f}" if base is not None and r["wall_s"] > base else "-"
        lines.append(f"| {r['code']} | {r['what']} | {r['images']} | {r['wall_s']} | "
                     f"{r['images'] / r['wall_s']:.1f} | {base if base else '-'} | {rate} | {r['peak_rss_mb']} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", help="working folder (default: a new temporary one)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--unique", type=int, default=100, help="distinct synthetic images; the rest are copies")
    parser.add_argument("--model", default="mobilenet")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--explain-images", type=int, help="explain only this many (default: --images)")
    parser.add_argument("--compare-images", type=int, default=300,
                        help="image count for the before/after explain comparison (the earlier explain holds "
                             "every image in memory: ~12 MB per 1024 px image)")
    parser.add_argument("--before-src", help="keras_cxr source tree of an earlier commit, to measure it too")
    parser.add_argument("--steps", default="predict,explain", help="which commands to measure")
    parser.add_argument("--keep", action="store_true", help="keep explain outputs and a temporary --dir")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def prepare(args, work):
    """Images and model, made in a child process: Linux keeps a process's peak RSS across exec, so a parent
    that had imported TensorFlow would pass its own peak on to every child it measures."""
    if not args.prepare_only:
        subprocess.run([sys.executable, __file__, "--prepare-only", "--dir", str(work), "--images", str(args.images),
                        "--size", str(args.size), "--unique", str(args.unique), "--model", args.model,
                        "--input-size", str(args.input_size)], check=True)
        return [work / "images" / f"xray_{i:05d}.png" for i in range(args.images)]
    make_model(work / "run", args.model, args.input_size)
    return make_images(work / "images", args.images, args.size, args.unique)


def plan(args, work, names):
    """(code label, source tree or None, folder, image count, commands) for every measurement, in order.

    Start-up runs (one image) first; the earlier explain is run on ``--compare-images`` only, since it holds
    every image in memory; predict and the streaming explain run over all images.
    """
    steps = {s.strip() for s in args.steps.split(",")}
    codes = [("after", None)] + ([("before", Path(args.before_src).resolve())] if args.before_src else [])
    everything = work / "images"
    count = args.explain_images or args.images
    explain_folder = everything if count == args.images else image_subset(work, names, count)
    runs = [(code, src, image_subset(work, names, 1), 1, steps) for code, src in codes]
    runs += [(code, src, image_subset(work, names, args.compare_images), args.compare_images, {"explain"} & steps)
             for code, src in codes]
    runs += [(code, src, everything, args.images, {"predict"} & steps) for code, src in codes]
    runs.append(("after", None, explain_folder, count, {"explain"} & steps))
    return [run for run in runs if run[-1]]


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.dir or tempfile.mkdtemp(prefix="predict_explain_memory_")).resolve()
    names = prepare(args, work)
    if args.prepare_only:
        return 0
    run_dir, tflite = work / "run", work / "run" / "model.tflite"
    results = []
    for code, src, folder, count, steps in plan(args, work, names):
        results += run_set(work, run_dir, tflite, folder, count, code, src, steps, args.keep)
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{args.images} synthetic {args.size} px PNGs ({args.unique} distinct), untrained {args.model} at "
          f"{args.input_size} px, {os.cpu_count()} CPU cores; results in {work / 'results.json'}")
    print(table(results))
    if not args.dir and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
