"""Fixtures shared by the command-line tests."""

import pytest


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    """The built-in synthetic 4-class set, 6 images per class at 48 px (manifest.csv inside); read-only."""
    from keras_cxr.data import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, per_class=6, size=48, seed=0)
    return root


@pytest.fixture(scope="session")
def calibrated_run(tmp_path_factory):
    """A 2-epoch mobilenet run (32 px) on split synthetic data, evaluated into before/, then calibrated."""
    from keras_cxr.cli import main
    from keras_cxr.data import generate_dataset, split_manifest

    root = tmp_path_factory.mktemp("calib")
    manifest = split_manifest(generate_dataset(root / "data", per_class=8, size=48, seed=3), val=0.25, test=0.25,
                              seed=0)
    manifest.write(root / "split.csv")
    assert main(["train", "--data", str(root / "split.csv"), "--out", str(root / "run"), "--epochs", "2",
                 "model.name=mobilenet", "model.input_size=32", "training.batch_size=8", "model.weights=null"]) == 0
    assert main(["evaluate", "--model", str(root / "run"), "--data", str(root / "split.csv"),
                 "--out", str(root / "before"), "--bootstrap", "0"]) == 0
    assert main(["calibrate", str(root / "run")]) == 0
    return root
