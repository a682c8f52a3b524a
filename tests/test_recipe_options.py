"""Recipe options the papers' protocols need: keep the last epoch, TV denoising everywhere, a published
test split kept with validation carved from train, a smaller training set."""

import json

import keras
import numpy as np
import pytest

from keras_cxr.data import read_manifest
from keras_cxr.testing import TINY_TRAINING
from keras_cxr.training import train
from keras_cxr.training.callbacks import BEST_MODEL, RunCheckpoint
from keras_cxr.training.config import load_config


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    return model


def _epochs(callback, model, values):
    callback.set_model(model)
    for epoch, value in enumerate(values):
        model.layers[0].kernel.assign(np.full((2, 2), float(epoch), "float32"))  # each epoch's weights differ
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 0.5, "val_accuracy": value})


def test_keep_last_writes_the_last_epoch_even_when_it_is_worse(tmp_path):
    for keep, expected_epoch in (("best", 0), ("last", 1)):
        run = tmp_path / keep
        run.mkdir()
        state = {"epoch": 0, "history": [], "best_value": None, "best_epoch": None}
        _epochs(RunCheckpoint(run, state, keep=keep), _tiny_model(), [0.9, 0.5])
        assert state["best_epoch"] == expected_epoch
        saved = keras.saving.load_model(run / BEST_MODEL)
        assert float(saved.layers[0].kernel.numpy()[0, 0]) == expected_epoch


def _published_train_test(root):
    """A synthetic set published with train and test folders but no validation split (about 8 patients a class)."""
    from keras_cxr.data import generate_dataset

    generate_dataset(root, per_class=12, size=32, seed=3, images_per_patient=(1, 2))
    manifest = read_manifest(root / "manifest.csv")
    patients = sorted({r["patient_id"] for r in manifest.records})
    test_patients = set(patients[::4])
    for record in manifest.records:
        record["split"] = "test" if record["patient_id"] in test_patients else "train"
    return manifest


def test_published_test_split_kept_validation_carved_train_fraction_and_denoising(tmp_path):
    manifest = _published_train_test(tmp_path / "data")
    data = manifest.write(tmp_path / "published.csv")
    config = load_config(None, TINY_TRAINING + ["training.epochs=1", "training.keep=last", "data.val_fraction=0.25",
                                                "data.train_fraction=0.5", "data.denoise=tv", "data.anscombe=true"])
    run = tmp_path / "run"
    train(config, data, run, verbose=0)

    split = read_manifest(run / "split.csv")
    published = read_manifest(data)
    test_in = sorted(str(published.resolve(r)) for r in published.records if r["split"] == "test")
    assert sorted(str(split.resolve(r)) for r in split.records if r["split"] == "test") == test_in  # as published
    published_train = {r["patient_id"] for r in manifest.records if r["split"] == "train"}
    val = {r["patient_id"] for r in split.records if r["split"] == "val"}
    kept_train = {r["patient_id"] for r in split.records if r["split"] == "train"}
    assert val and val <= published_train and not val & kept_train
    carved_train = published_train - val
    assert 0.35 * len(carved_train) <= len(kept_train) <= 0.65 * len(carved_train)  # train_fraction 0.5
    assert 0 not in split.subset("train").counts().values()

    record = json.loads((run / "preprocessing.json").read_text())
    assert record["denoise"] == {"method": "tv", "weight": 0.05, "anscombe": True}
    state = json.loads((run / "state.json").read_text())
    assert state["best_epoch"] == 0  # keep: last

    from keras_cxr.models.loading import load_classifier

    converter = load_classifier(run).converter
    assert converter.denoise == "tv" and converter.anscombe
    image = published.resolve(published.records[0])
    plain = converter.__class__(converter.image_size, converter.load_size)
    assert np.abs(converter(image).astype(int) - plain(image).astype(int)).mean() > 0.5  # evaluation denoises too


def test_a_denoising_recipe_refuses_images_preprocess_already_denoised(synth, tmp_path):
    import pytest

    from keras_cxr.data.preprocess import PreprocessOptions, preprocess_folder

    preprocess_folder(synth / "images", tmp_path / "tv", PreprocessOptions(denoise="tv"), workers=1, progress=False)
    config = load_config(None, TINY_TRAINING + ["training.epochs=1", "data.denoise=tv"])
    with pytest.raises(ValueError, match="denoised by keras-cxr data preprocess.*data.denoise=null"):
        train(config, tmp_path / "tv", tmp_path / "run", verbose=0)


def _train_tiny(synth, tmp_path, *overrides):
    """One epoch of the tiny training config with ``overrides``; returns the run directory."""
    from keras_cxr.cli import main
    from keras_cxr.data import split_manifest

    split_manifest(read_manifest(synth / "manifest.csv"), val=0.25, seed=0).write(tmp_path / "split.csv")
    assert main(["train", "--data", str(tmp_path / "split.csv"), "--out", str(tmp_path / "run"), "--epochs", "1",
                 *TINY_TRAINING, *overrides]) == 0
    return tmp_path / "run"


def _compile_config(run):
    """What the trainer passed to ``compile`` (saved in model.keras)."""
    import zipfile

    with zipfile.ZipFile(run / "model.keras") as saved:
        return json.loads(saved.read("config.json"))["compile_config"]


def test_mixed_precision_from_a_config_and_the_policy_is_restored_after(synth, tmp_path):
    """``training.mixed_precision`` builds every layer in bfloat16 with float32 outputs, and the process's dtype
    policy is float32 again after the run (a notebook's next model is not silently mixed)."""
    from keras_cxr.models import load_model

    run = _train_tiny(synth, tmp_path, "training.mixed_precision=mixed_bfloat16")
    assert keras.mixed_precision.dtype_policy().name == "float32"
    model = load_model(run / "model.keras")
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convolutions and {layer.dtype_policy.name for layer in convolutions} == {"mixed_bfloat16"}
    probs = np.asarray(model.predict(np.random.default_rng(0).random((2, 32, 32, 3), np.float32), verbose=0))
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)


@pytest.mark.slow
def test_jit_compile_from_a_config_compiles_the_training_step(synth, tmp_path):
    """``training.jit_compile: true`` reaches ``compile`` (XLA), and the run trains (slow: XLA compiles ~10 s)."""
    run = _train_tiny(synth, tmp_path, "training.run_eagerly=false", "training.jit_compile=true")
    compiled = _compile_config(run)
    assert compiled["jit_compile"] is True and compiled["run_eagerly"] is False
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
