"""The whole pipeline on built-in data: ``keras-cxr demo --out DIR``.

Synthetic 4-class X-rays with lesion masks -> patient-level split -> training
one of the papers' networks with its recipe scaled down to a CPU -> evaluation
on the held-out patients -> Grad-CAM and LIME with the pointing game -> TFLite
int8 export with its parity check -> ``DIR/report.md`` linking every artifact.
The default (Zhong 2020's VGG-style 80x80 network with its Adam, three-stage
learning rate and label smoothing 0.12) finishes in minutes on 2 CPU cores.
"""

import json
import time
from pathlib import Path

from keras_cxr.data.synthetic import CLASSES

DEFAULTS = {"model": "vgg80_multibranch", "input_size": 80, "per_class": 120, "source_size": 128, "epochs": 14,
            "batch_size": 16, "explain_images": 12, "seed": 0}


def demo_config(model, input_size, epochs, batch_size, seed):
    """The training config: Zhong 2020's recipe for its network, a generic warm-up + cosine otherwise."""
    config = {"paper": {"source": "keras-cxr demo", "assumptions": "recipe scaled down for a CPU"},
              "model": {"name": model, "input_size": input_size, "weights": None},
              "data": {"classes": list(CLASSES), "val_fraction": 0.2, "test_fraction": 0.2, "split_seed": seed},
              "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed}}
    if model == "vgg80_multibranch":
        # Zhong 2020's script: Adam with learning-rate stages 4e-4 -> 2e-4 -> 1e-4. Scaled down to a few
        # minutes: the stages are stretched over the short run (decay at 60% and 85%), batch 16 gives more
        # steps, and label smoothing is left out.
        config["data"]["augment"] = "zhong2020"
        config["training"].update(optimizer="adam", learning_rate=4e-4, schedule="piecewise",
                                  boundaries_epochs=[max(epochs * 6 // 10, 1), max(epochs * 85 // 100, 2)],
                                  values=[4e-4, 2e-4, 1e-4])
    else:
        config["data"]["augment"] = "li_convnext"
        config["training"].update(optimizer="adam", learning_rate=1e-3, schedule="warmup_cosine", warmup_epochs=1)
    return config


def _step(number, total, text, log):
    log(f"[{number}/{total}] {text}")


def _demo_dir(out):
    """The demo writes many files: only into a new/empty folder or one an earlier demo made."""
    from keras_cxr.utils.outputs import is_marked, mark_output_dir

    out = Path(out)
    if out.is_dir() and any(out.iterdir()) and not is_marked(out):
        raise ValueError(f"--out {out} is not empty and was not written by keras-cxr demo; choose a new folder")
    return mark_output_dir(out, "demo")


def run_demo(out, model=None, input_size=None, per_class=None, source_size=None, epochs=None, batch_size=None,
             explain_images=None, seed=None, log=print):
    """Run the demo into ``out``; returns a summary dict (also in ``out/demo_summary.json``)."""
    o = _options(model=model, input_size=input_size, per_class=per_class, source_size=source_size, epochs=epochs,
                 batch_size=batch_size, explain_images=explain_images, seed=seed)
    out = _demo_dir(out)
    started = time.perf_counter()
    timings = {}
    steps = [("data", f"Generating {o['per_class']} synthetic X-rays per class with lesion masks", _make_data),
             ("train", f"Training {o['model']} at {o['input_size']}x{o['input_size']} for {o['epochs']} epochs",
              _train),
             ("evaluate", "Evaluating on the held-out test patients", _evaluate),
             ("explain", "Explaining test images with Grad-CAM and LIME (pointing game against the lesion masks)",
              _explain),
             ("export", "Exporting to TFLite int8 with a parity check against Keras", _export)]
    done = {}
    for number, (name, text, step) in enumerate(steps, start=1):
        _step(number, 6, text, log)
        t = time.perf_counter()
        done[name] = step(out, o, done, log)
        timings[name] = time.perf_counter() - t

    _step(6, 6, "Writing the report", log)
    timings["total"] = time.perf_counter() - started
    metrics, explanation, export = done["evaluate"], done["explain"], done["export"]
    summary = {"options": o, "timings_s": {k: round(v, 1) for k, v in timings.items()},
               "test_accuracy": metrics["accuracy"], "macro_f1": metrics["average"]["macro"]["f1"],
               "best_val_accuracy": done["train"].best_value, "pointing_game": explanation.get("pointing_game", {}),
               "export": {"size_bytes": export["size_bytes"], "parity": export["parity"]}}
    (out / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_demo_report(out, summary, done["data"], metrics, explanation, export)
    log(f"Done in {timings['total'] / 60:.1f} min. Report: {out / 'report.html'} (open it in a browser), "
        f"{out / 'report.md'}")
    return summary


def _options(**given):
    """DEFAULTS with the caller's non-None values; models other than Zhong 2020's default to 64 px."""
    o = dict(DEFAULTS)
    o.update({key: value for key, value in given.items() if value is not None})
    if o["model"] != "vgg80_multibranch" and given.get("input_size") is None:
        o["input_size"] = 64
    return o


def _make_data(out, o, done, log):
    """Step 1: the synthetic set, split by patient, written as ``data/split.csv``; returns the manifest."""
    from keras_cxr.data import format_counts, generate_dataset, split_manifest

    manifest = generate_dataset(out / "data", per_class=o["per_class"], size=o["source_size"], seed=o["seed"])
    manifest = split_manifest(manifest, val=0.2, test=0.2, seed=o["seed"])
    manifest.write(out / "data" / "split.csv")
    log(format_counts(manifest))
    return manifest


def _train(out, o, done, log):
    """Step 2: the demo config trained into ``run/``; returns the TrainResult."""
    from keras_cxr.training import train, validate

    config = validate(demo_config(o["model"], o["input_size"], o["epochs"], o["batch_size"], o["seed"]))
    return train(config, out / "data" / "split.csv", out / "run", overwrite=True)


def _evaluate(out, o, done, log):
    """Step 3: the test split evaluated into ``evaluation/``; returns its metrics."""
    from keras_cxr.evaluation import evaluate

    metrics = evaluate(out / "run", out / "data" / "split.csv", out / "evaluation", split="test",
                       positive_class=CLASSES[0])
    log(f"test accuracy {metrics['accuracy']:.1%} (95% CI {metrics['bootstrap_95ci']['accuracy']['lower']:.1%}-"
        f"{metrics['bootstrap_95ci']['accuracy']['upper']:.1%}), macro-F1 {metrics['average']['macro']['f1']:.1%}")
    return metrics


def _explain(out, o, done, log):
    """Step 4: Grad-CAM and LIME of test images with lesions, scored against their masks; returns the summary."""
    from keras_cxr.explain import explain_paths

    manifest = done["data"]
    test_rows = [r for r in manifest.records if r["split"] == "test" and r["label"] != "Normal"]
    per_class_n = max(o["explain_images"] // 3, 1)
    chosen = [r for c in CLASSES[:3] for r in [x for x in test_rows if x["label"] == c][:per_class_n]]
    explanation = explain_paths(out / "run", [manifest.resolve(r) for r in chosen], out / "explanations",
                                methods=("gradcam", "lime"), masks=out / "data" / "masks", lime_samples=200,
                                progress=False)
    for method, score in explanation.get("pointing_game", {}).items():
        log(f"{method}: pointing-game hit rate {score['hit_rate']:.0%} (chance {score['mask_share']:.0%}), "
            f"energy inside lesion {score['energy_inside']:.0%}")
    return explanation


def _export(out, o, done, log):
    """Step 5: a TFLite int8 export with its parity check; returns the export report."""
    from keras_cxr.export import export_model

    export = export_model(out / "run", out / "export" / "model_int8.tflite", quantize="int8",
                          calibration_data=out / "data" / "split.csv")
    log(f"{export['size_bytes'] / 1e6:.1f} MB, top-1 agreement with Keras {export['parity']['top1_agreement']:.0%}")
    return export


def write_demo_report(out, summary, manifest, metrics, explanation, export):
    from keras_cxr.data import format_counts

    o = summary["options"]
    lines = [
        "# keras-cxr demo", "",
        f"Synthetic 4-class chest X-rays, split by patient; `{o['model']}` trained at {o['input_size']}x"
        f"{o['input_size']} for {o['epochs']} epochs; total time {summary['timings_s']['total'] / 60:.1f} min "
        f"(data {summary['timings_s']['data']:.0f} s, training {summary['timings_s']['train']:.0f} s, evaluation "
        f"{summary['timings_s']['evaluate']:.0f} s, explanations {summary['timings_s']['explain']:.0f} s, export "
        f"{summary['timings_s']['export']:.0f} s).", "",
        "## 1. Data", "", "```", format_counts(manifest), "```", "",
        "Images: [data/images](data/images), lesion masks: [data/masks](data/masks), split manifest: "
        "[data/split.csv](data/split.csv).", "",
        "## 2. Training", "",
        f"Best validation accuracy {summary['best_val_accuracy']:.1%}. Run directory: [run/](run/) "
        "([config.yaml](run/config.yaml), [history.csv](run/history.csv), [model.keras](run/model.keras), "
        "TensorBoard logs in [run/logs](run/logs)).", "",
        "![training curves](run/training_curves.png)", "",
        "## 3. Evaluation on held-out patients", "",
        f"Test accuracy **{metrics['accuracy']:.1%}** (95% CI {metrics['bootstrap_95ci']['accuracy']['lower']:.1%} - "
        f"{metrics['bootstrap_95ci']['accuracy']['upper']:.1%}), macro-F1 {metrics['average']['macro']['f1']:.1%}, "
        f"macro ROC-AUC {metrics['roc_auc']['macro']:.3f}, COVID-19 sensitivity "
        f"{metrics['positive_vs_rest']['recall']:.1%}. Full report: [evaluation/report.html](evaluation/report.html) "
        "(image browser with Grad-CAM; also [report.md](evaluation/report.md)); "
        "[metrics.json](evaluation/metrics.json), [predictions.csv](evaluation/predictions.csv).", "",
        "![confusion matrix](evaluation/confusion_matrix.png)", "",
        "## 4. Explanations", "",
        "| method | lesion images | pointing-game hit rate | chance (mask share) | map energy inside lesion |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, s in explanation.get("pointing_game", {}).items():
        lines.append(f"| {method} | {s['images']} | {s['hit_rate']:.0%} | {s['mask_share']:.0%} | "
                     f"{s['energy_inside']:.0%} |")
    lines += [""]
    for method, path in explanation["galleries"].items():
        lines += [f"![{method} gallery]({Path(path).relative_to(out).as_posix()})", ""]
    lines += ["Per-image overlays and raw maps: [explanations/report.html](explanations/report.html), "
              "[explanations/](explanations/), "
              "[summary.json](explanations/summary.json).", "",
              "## 5. Export", "",
              f"TFLite int8: [export/model_int8.tflite](export/model_int8.tflite) ({export['size_bytes'] / 1e6:.1f} MB), "
              f"labels [export/labels.json](export/labels.json); parity with Keras on {export['parity']['images']} "
              f"images: top-1 agreement {export['parity']['top1_agreement']:.0%}, largest probability difference "
              f"{export['parity']['max_abs_prob_diff']:.3f} ([export_report.json](export/export_report.json)).", "",
              "Predict without TensorFlow:", "", "```bash",
              f"keras-cxr predict --model {out / 'export' / 'model_int8.tflite'} {out / 'data' / 'images' / 'COVID-19'}",
              "```", ""]
    (out / "report.md").write_text("\n".join(lines))
    from keras_cxr.pages.report_page import write_report_page

    write_report_page(out / "report.md", "keras-cxr demo", headline=_headline(summary, metrics))
    return out / "report.md"


def _headline(summary, metrics):
    """``report.html``'s tiles: test accuracy and macro F1 with intervals, pointing game, export, time."""
    from keras_cxr.pages.report_page import interval_tile

    boot = metrics["bootstrap_95ci"]
    tiles = [interval_tile("test accuracy", metrics["accuracy"], boot["accuracy"]),
             interval_tile("macro F1", metrics["average"]["macro"]["f1"], boot["macro_f1"])]
    for method, s in summary["pointing_game"].items():
        tiles.append({"label": f"{method} pointing game", "value": f"{s['hit_rate']:.0%}",
                      "detail": f"chance {s['mask_share']:.0%}"})
    export = summary["export"]
    tiles.append({"label": "TFLite int8", "value": f"{export['size_bytes'] / 1e6:.1f} MB",
                  "detail": f"top-1 agreement with Keras {export['parity']['top1_agreement']:.0%}"})
    tiles.append({"label": "total time", "value": f"{summary['timings_s']['total'] / 60:.1f} min", "detail": ""})
    return tiles
