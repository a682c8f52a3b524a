"""Fixtures shared by the command-line tests."""

import pytest


@pytest.fixture(scope="session")
def synth(tmp_path_factory):
    """The built-in synthetic 4-class set, 6 images per class at 48 px (manifest.csv inside); read-only."""
    from keras_cxr.data import generate_dataset

    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, per_class=6, size=48, seed=0)
    return root
