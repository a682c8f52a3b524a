"""``keras-cxr bench``: every mode on a small model, JSON and table output."""

import json

from keras_cxr.cli import main


def test_bench_measures_every_mode_and_states_the_setup(tmp_path, capsys):
    from keras_cxr.data import generate_dataset

    data = tmp_path / "xrays"
    generate_dataset(data, per_class=2, size=96, seed=0)
    argv = ["bench", "--models", "mobilenet", "--image-size", "32", "--batch", "4", "--windows", "2",
            "--threads", "2", "--mode", "infer", "train", "pipeline", "tflite", "--quantize", "none",
            "--data", str(data), "--augment", "li_convnext"]
    assert main(argv + ["--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    environment = results["environment"]
    import tensorflow as tf

    # 2 unless an earlier test in this process already started TensorFlow's thread pools.
    assert environment["backend"] == "tensorflow"
    assert environment["threads"] in (2, tf.config.threading.get_intra_op_parallelism_threads() or "default")
    assert environment["batch_size"] == 4 and environment["precision"] == "float32"
    assert environment["device"].startswith("CPU")
    (row,) = results["models"]
    assert row["model"] == "mobilenet" and row["input"] == "32x32x3"
    assert row["infer_images_per_second"] > 0 and row["train_images_per_second"] > 0
    assert len(row["train_windows"]) == 2 and row["peak_rss_mb"] > 100 and row["seconds"] > 0
    (tflite,) = row["tflite"]
    assert tflite["quantize"] == "none" and tflite["latency_ms"] > 0 and tflite["top1_agreement"] > 0.9
    pipeline = results["pipeline"]
    assert pipeline["images"] == 8 and pipeline["image_size"] == 32
    assert pipeline["cold_images_per_second"] > 0 and pipeline["cached_images_per_second"] > 0


def test_bench_table_and_unknown_model(capsys):
    assert main(["bench", "--models", "resnet18", "--image-size", "32", "--batch", "2", "--windows", "1",
                 "--mode", "infer"]) == 0
    out = capsys.readouterr().out
    assert "backend tensorflow" in out and "batch 2" in out and "resnet18" in out and "infer img/s" in out
    assert main(["bench", "--models", "convnext_huge", "--mode", "infer"]) != 0
    assert "convnext_huge" in capsys.readouterr().err
