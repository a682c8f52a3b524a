"""Images/s of ``keras-cxr predict --runner beam`` (Apache Beam DirectRunner) against ``keras-cxr predict``.

This
1. writes ``--images`` synthetic ``--size`` px 8-bit PNGs into ``DIR/images`` (``--unique`` distinct
   :func:`keras_cxr.data.synthetic.synthetic_cxr` images, the rest byte copies: every file is decoded and
   converted in full either way);
2. saves an untrained ``--model`` at ``--input-size`` as a run directory (the figures are about reading,
   converting and scoring images, not accuracy);
3. runs each command in a child process (``PYTHONPATH`` = this source tree, so Beam's worker processes import
   the same code) on one image (start-up: imports, model load, pipeline launch) and on all images, and
   prints a Markdown table; ``results.json`` in ``DIR`` keeps the raw figures.

Usage (needs ``pip install keras-cxr[beam]``)::

    python benchmarks/beam_predict.py --dir /tmp/beam_bench
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(SOURCE), str(Path(__file__).resolve().parent)]  # this tree's keras_cxr, not an install
from predict_explain_memory import CLASSES, make_images  # noqa: E402

IN_MEMORY = "--runner=DirectRunner"
MULTI_PROCESS = "--runner=DirectRunner --direct_num_workers=2 --direct_running_mode=multi_processing"


def make_run(run_dir, name, input_size):
    """An untrained ``name`` saved as a run directory (model.keras + classes.json)."""
    if (run_dir / "model.keras").is_file():
        return run_dir
    import keras

    from keras_cxr.models import build_model

    keras.utils.set_random_seed(0)
    run_dir.mkdir(parents=True, exist_ok=True)
    build_model(name, len(CLASSES), input_shape=(input_size, input_size, 3)).save(run_dir / "model.keras")
    (run_dir / "classes.json").write_text(json.dumps(CLASSES))
    return run_dir


def commands(run_dir, folder, out, batch_size):
    """(label, command) for ``predict`` and the Beam runner in each DirectRunner mode."""
    cli = [sys.executable, "-m", "keras_cxr.cli", "predict", "--model", str(run_dir), "--batch-size", str(batch_size)]
    beam = [*cli, "--runner", "beam", "--input", str(folder / "*.png"), "--output", str(out / "beam"), "--overwrite"]
    return [("keras-cxr predict --out", [*cli, "--out", str(out / "local.csv"), "--overwrite", str(folder)]),
            (f"beam {IN_MEMORY}", [*beam, "--beam-options", IN_MEMORY]),
            (f"beam {MULTI_PROCESS}", [*beam, "--beam-options", MULTI_PROCESS])]


def measure(label, command, images, log_dir):
    """Wall time of ``command`` in a child process (which must score every image: exit code 0)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(SOURCE))
    log = log_dir / f"{label.split()[0]}_{images}_{abs(hash(label)) % 1000}.log"
    start = time.perf_counter()
    with open(log, "w") as handle:
        code = subprocess.run(command, cwd=log_dir, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{label} failed with exit code {code}; see {log}")
    result = {"what": label, "images": images, "wall_s": round(wall, 1), "command": " ".join(command)}
    print(json.dumps(result), file=sys.stderr, flush=True)
    return result


def table(results):
    """Markdown rows: images/s over the whole wall time, and after the one-image run's start-up."""
    startup = {r["what"]: r["wall_s"] for r in results if r["images"] == 1}
    lines = ["| runner | images | wall (s) | images/s | start-up (s) | images/s after start-up |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r["images"] == 1:
            continue
        base = startup[r["what"]]
        lines.append(f"| `{r['what']}` | {r['images']:,} | {r['wall_s']} | {r['images'] / r['wall_s']:.1f} | "
                     f"{base} | {r['images'] / (r['wall_s'] - base):.1f} |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", required=True, help="working folder (images and model are kept for re-runs)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--unique", type=int, default=100, help="distinct synthetic images; the rest are copies")
    parser.add_argument("--model", default="mobilenet")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    work = Path(args.dir).resolve()
    names = make_images(work / "images", args.images, args.size, args.unique)
    run_dir = make_run(work / "run", args.model, args.input_size)
    one = work / "one"
    one.mkdir(exist_ok=True)
    if not (one / names[0].name).exists():
        shutil.copyfile(names[0], one / names[0].name)
    results = []
    for folder, count in ((one, 1), (work / "images", args.images)):
        for label, command in commands(run_dir, folder, work / "outputs", args.batch_size):
            results.append(measure(label, command, count, work))
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
