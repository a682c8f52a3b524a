"""What the keras_cxr pipeline costs or gains on real X-rays, against a plain-Keras control.

Given a manifest with patient ids and a recipe, this
1. splits the manifest by patient (stratified, fixed seed) into train/val/test;
2. trains with ``keras-cxr train`` and scores the held-out patients with ``keras-cxr evaluate``;
3. trains the same network on the same split as a **plain control**: every image
   decoded and resized with Pillow into NumPy arrays, ``model.fit`` on the arrays,
   the same optimizer, schedule, loss, class weights, epochs and best-epoch
   selection, and flip + brightness 0.1 + contrast 0.1 as Keras layers;
4. prints both, overall and per ``population`` and per ``source`` (any ``--group-by``
   column), with 95% bootstrap intervals, and writes ``results.json`` + ``results.md``.

One training run on ~700 images moves accuracy by several points from seed to
seed; ``--seeds 0,1,2`` trains each arm once per seed and reports the mean, the
per-seed values and a bootstrap interval over test images.

Usage (the real development set, rebuilt as ``shared/data/real_cxr_dev/README.md`` says)::

    python benchmarks/real_cxr.py --manifest /data/real_cxr_dev/manifest.csv \\
        --config zhong2020/vgg80 --out runs/real_vgg80 \\
        data.classes=null training.class_weight=balanced

``--skip-control`` trains the keras_cxr arm only (comparing presets or recipes with each other, as
docs/BENCHMARKS.md's augmentation tables do); overrides such as ``data.augment=zhong2020_script`` follow the
options.

A ``METADATA.csv`` beside the manifest (the development set has one) adds its
``population``, ``age``, ``sex`` and ``view`` columns to the manifest by path.
"""

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

METADATA_COLUMNS = ("population", "age", "sex", "view")


def with_metadata(manifest):
    """Add METADATA.csv's columns (joined on the path relative to the manifest's folder), when present."""
    from keras_cxr.data.manifest import Manifest

    metadata = manifest.root / "METADATA.csv"
    if not metadata.is_file():
        return manifest
    with open(metadata, newline="") as handle:
        rows = {(manifest.root / r["relpath"]).resolve(): r for r in csv.DictReader(handle)}
    records = []
    for record in manifest.records:
        extra = rows.get(manifest.resolve(record).resolve(), {})
        records.append({**record, **{c: extra[c] for c in METADATA_COLUMNS if c in extra}})
    return Manifest(records, manifest.classes, manifest.root, dict(manifest.meta))


def make_split(manifest_path, out, val, test, seed):
    """Patient-grouped split written to ``out/split.csv`` (kept if it exists, so reruns compare alike)."""
    from keras_cxr.data import read_manifest, split_manifest

    path = out / "split.csv"
    if not path.is_file():
        manifest = with_metadata(read_manifest(manifest_path))
        split_manifest(manifest, val=val, test=test, seed=seed).write(path)
    return path


def keras_cxr(*args):
    """Run a keras-cxr command in its own process (as a user would), failing loudly."""
    command = [sys.executable, "-m", "keras_cxr.cli", *map(str, args)]
    print("$ keras-cxr " + " ".join(map(str, args)), flush=True)
    subprocess.run(command, check=True)


def run_pipeline(split, config, overrides, out, group_by):
    """keras-cxr train + evaluate; returns (predictions rows, training seconds)."""
    run = out / "pipeline_run"
    start = time.perf_counter()
    # --resume continues (or, when finished, skips) an earlier run of this seed; a fresh run may not resume.
    resume = ["--resume"] if (run / "config.yaml").is_file() else []
    keras_cxr("train", "--config", config, "--data", split, "--out", run, *resume, *overrides)
    seconds = time.perf_counter() - start
    keras_cxr("evaluate", "--model", run, "--data", split, "--split", "test", "--out", out / "pipeline_eval",
              "--positive-class", "COVID-19", "--group-by", group_by[0], "--bootstrap", "200")
    with open(out / "pipeline_eval" / "predictions.csv", newline="") as handle:
        return list(csv.DictReader(handle)), seconds


def load_arrays(manifest, split, size, channels):
    """Pillow decode -> grayscale -> bilinear resize -> [0, 1] float arrays; the control's whole pipeline."""
    from PIL import Image

    subset = manifest.subset(split)
    images = []
    for record in subset.records:
        with Image.open(subset.resolve(record)) as image:
            gray = image.convert("L").resize((size, size), Image.BILINEAR)
        images.append(np.asarray(gray, np.float32)[..., None] / 255.0)
    x = np.stack(images)
    if channels == 3:
        x = np.repeat(x, 3, axis=-1)
    y = np.array([manifest.classes.index(r["label"]) for r in subset.records])
    return x, y, subset


def control_model(config, num_classes, size, steps_per_epoch):
    """The recipe's network behind plain Keras augmentation layers, compiled with the recipe."""
    import keras

    from keras_cxr.models import build_model
    from keras_cxr.training import recipe

    m = config["model"]
    channels = m["channels"]
    network = build_model(m["name"], num_classes, input_shape=(size, size, channels), weights=m["weights"],
                          **m["options"])
    inputs = keras.Input((size, size, channels))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.RandomBrightness(0.1, value_range=(0.0, 1.0))(x)
    x = keras.layers.RandomContrast(0.1, value_range=(0.0, 1.0))(x)
    model = keras.Model(inputs, network(keras.ops.clip(x, 0.0, 1.0)))
    model.compile(optimizer=recipe.build_optimizer(config, steps_per_epoch), loss=recipe.build_loss(config),
                  metrics=["accuracy"])
    return model


def run_control(split, config, out):
    """Plain Keras on arrays, same split and recipe; returns (predictions rows, training seconds)."""
    import keras

    from keras_cxr.data import read_manifest
    from keras_cxr.training import recipe, runtime

    t, m = config["training"], config["model"]
    runtime.set_seeds(t["seed"], False)
    manifest = read_manifest(split, classes=config["data"]["classes"])
    from keras_cxr.models import get_spec

    size = m["input_size"] or get_spec(m["name"]).default_input_shape[0]
    (x, y, train), (xv, yv, _), (xt, yt, test) = (load_arrays(manifest, s, size, m["channels"])
                                                  for s in ("train", "val", "test"))
    k = len(manifest.classes)
    model = control_model(config, k, size, int(np.ceil(len(x) / t["batch_size"])))
    best = out / "control_best.weights.h5"
    start = time.perf_counter()
    model.fit(x, keras.utils.to_categorical(y, k), batch_size=t["batch_size"], epochs=t["epochs"], verbose=2,
              validation_data=(xv, keras.utils.to_categorical(yv, k)),
              class_weight=recipe.class_weights(config, train),
              callbacks=[keras.callbacks.ModelCheckpoint(best, monitor=t["monitor"], save_best_only=True,
                                                         save_weights_only=True, mode="max")])
    seconds = time.perf_counter() - start
    model.load_weights(best)
    probs = model.predict(xt, batch_size=64, verbose=0)
    rows = [{**r, "true_label": r["label"], "predicted_label": manifest.classes[int(p.argmax())]}
            for r, p in zip(test.records, probs)]
    return rows, seconds


def score(rows_by_seed, classes, group_by, resamples=1000):
    """Accuracy and COVID-19 sensitivity, averaged over training seeds, overall and per group.

    Intervals: percentile bootstrap over test images (resampled jointly for every seed), so they
    reflect the test set's size; ``per_seed`` shows the spread between trainings.
    """
    from keras_cxr.evaluation.confidence import bootstrap_interval

    rows = rows_by_seed[0]
    truth = np.array([classes.index(r["true_label"]) for r in rows])
    predicted = np.array([[classes.index(r["predicted_label"]) for r in seed_rows] for seed_rows in rows_by_seed]).T
    positive = classes.index("COVID-19") if "COVID-19" in classes else None

    def accuracy(t, p):
        return float((p == t[:, None]).mean())

    def sensitivity(t, p):
        hit = t == positive
        return float((p[hit] == positive).mean()) if hit.any() else None

    def entry(index):
        t, p = truth[index], predicted[index]
        result = {"num_images": int(index.sum()),
                  "accuracy": bootstrap_interval(accuracy, t, p, resamples),
                  "per_seed_accuracy": [float((p[:, k] == t).mean()) for k in range(p.shape[1])]}
        if positive is not None and (t == positive).any():
            result["positive_sensitivity"] = bootstrap_interval(sensitivity, t, p, resamples)
            result["per_seed_sensitivity"] = [float((p[t == positive, k] == positive).mean())
                                              for k in range(p.shape[1])]
        return result

    result = {"overall": entry(np.ones(len(rows), bool))}
    for column in group_by:
        values = np.array([r.get(column, "") for r in rows], dtype=object)
        result[column] = {str(v): entry(values == v) for v in sorted(set(values), key=str)}
    return result


def _cell(interval, per_seed=None):
    if interval is None:
        return "-"
    text = f"{interval['value']:.3f} ({interval['lower']:.3f}-{interval['upper']:.3f})"
    if per_seed and len(per_seed) > 1:
        text += " [" + ", ".join(f"{v:.3f}" for v in per_seed) + "]"
    return text


def table(results, group_by):
    """Markdown: one row per (group, arm): images, accuracy and COVID-19 sensitivity with intervals."""
    lines = ["| group | arm | images | accuracy (95% CI) [per seed] | COVID-19 sensitivity (95% CI) [per seed] |",
             "|---|---|---:|---:|---:|"]
    arms = [arm for arm in ("pipeline", "control") if arm in results]
    sections = [("all", {"all": {arm: results[arm]["overall"] for arm in arms}})]
    for column in group_by:
        groups = sorted(set().union(*(results[arm][column] for arm in arms)))
        sections.append((column, {g: {arm: results[arm][column].get(g) for arm in arms} for g in groups}))
    for column, groups in sections:
        for group, by_arm in groups.items():
            for arm, v in by_arm.items():
                if v is None:
                    continue
                name = "all" if column == "all" else f"{column}={group}"
                lines.append(f"| {name} | {arm} | {v['num_images']} | {_cell(v['accuracy'], v['per_seed_accuracy'])}"
                             f" | {_cell(v.get('positive_sensitivity'), v.get('per_seed_sensitivity'))} |")
    return "\n".join(lines)


def run_arms(args, config):
    """Both arms for every training seed: ({arm: [rows per seed]}, {arm: [training seconds per seed]})."""
    import copy

    split = args.out / "split.csv"
    rows, seconds = {"pipeline": [], "control": []}, {"pipeline": [], "control": []}
    for seed in args.seeds:
        out = args.out / f"seed{seed}"
        out.mkdir(exist_ok=True)
        seeded = copy.deepcopy(config)
        seeded["training"]["seed"] = seed
        r, t = run_pipeline(split, args.config, [*args.overrides, f"training.seed={seed}"], out, args.group_by)
        rows["pipeline"].append(r)
        seconds["pipeline"].append(t)
        if not args.skip_control:
            r, t = run_control(split, seeded, out)
            rows["control"].append(r)
            seconds["control"].append(t)
    return {arm: r for arm, r in rows.items() if r}, {arm: t for arm, t in seconds.items() if t}


def _int_list(text):
    return [int(v) for v in text.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, help="manifest CSV with patient ids (METADATA.csv beside: joined)")
    parser.add_argument("--config", required=True, help="recipe YAML")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--val", type=float, default=0.15)
    parser.add_argument("--test", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    parser.add_argument("--seeds", type=_int_list, default=[0],
                        help="training seeds, comma-separated (each arm trains once per seed), e.g. 0,1,2")
    parser.add_argument("--group-by", type=lambda text: text.split(","), default=["population", "source"],
                        help="manifest columns, comma-separated (default population,source)")
    parser.add_argument("--skip-control", action="store_true")
    parser.add_argument("overrides", nargs="*", metavar="key.sub=value")
    args = parser.parse_args(argv)

    from keras_cxr.training import load_config

    args.out.mkdir(parents=True, exist_ok=True)
    make_split(args.manifest, args.out, args.val, args.test, args.seed)
    config = load_config(args.config, args.overrides)
    classes = json.loads((args.out / "split.json").read_text())["classes"]
    config["data"]["classes"] = config["data"]["classes"] or classes
    rows, seconds = run_arms(args, config)
    results = {arm: score(r, config["data"]["classes"], args.group_by) for arm, r in rows.items()}
    summary = {"manifest": str(args.manifest), "config": str(args.config), "overrides": args.overrides,
               "split": {"val": args.val, "test": args.test, "seed": args.seed}, "training_seeds": args.seeds,
               "training_seconds": seconds, "results": results}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = table(results, args.group_by)
    (args.out / "results.md").write_text(text + "\n")
    print(text)
    print("training seconds per seed: " + "; ".join(f"{k} " + ", ".join(f"{v:.0f}" for v in t)
                                                     for k, t in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
