"""ImageNet weights on a machine without internet: local copies, clear errors, ``keras-cxr weights``.

Every test blocks the network (any connection attempt is recorded and refused), points Keras's
home at a temporary folder, and stands in for Keras's published file with a keras.applications
MobileNet of random weights saved in Keras's legacy .h5 layout under the name Keras expects.
Its checksum is not the published one, so the table entry's checksum is set to the stand-in's.
"""

import dataclasses
import hashlib
import importlib
import inspect
import os
import socket
import subprocess
import sys

import h5py
import numpy as np
import pytest
import keras
from keras.src.backend import config as keras_config
from keras.src.legacy.saving import legacy_h5_format

from keras_cxr.cli import main
from keras_cxr.models import build_model, get_spec, list_models
from keras_cxr.models.imagenet import (
    IMAGENET_FILES,
    WEIGHTS_DIR_ENV,
    ImagenetWeightsMismatch,
    ImagenetWeightsNotFound,
)
from keras_cxr.models.weights import iter_layers

MOBILENET = IMAGENET_FILES[("MobileNet", False)]


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network, an empty temporary KERAS_HOME, no KERAS_CXR_WEIGHTS_DIR; yields the connection attempts."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:2] or args[:1])
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(home))  # what Keras read from KERAS_HOME at import
    monkeypatch.delenv(WEIGHTS_DIR_ENV, raising=False)
    return attempts


def _md5(path):
    return hashlib.md5(open(path, "rb").read()).hexdigest()


def _stand_in(folder, monkeypatch, record_hash=True):
    """A random-weight MobileNet (no top) saved as Keras's ImageNet file in ``folder``; returns (model, path)."""
    source = keras.applications.MobileNet(include_top=False, weights=None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MOBILENET.fname
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, source)
    if record_hash:
        monkeypatch.setattr(get_spec("mobilenet").imagenet_source, "file",
                            dataclasses.replace(MOBILENET, file_hash=_md5(path), size=None))
    return source, path


@pytest.mark.parametrize("where", ["keras_home", "weights_dir", "path"])
def test_imagenet_loads_a_local_copy_without_network(where, offline, monkeypatch, tmp_path):
    if where == "keras_home":
        folder = tmp_path / "keras_home" / "models"
    else:
        folder = tmp_path / "offline_weights"
    source, path = _stand_in(folder, monkeypatch)
    if where == "weights_dir":
        monkeypatch.setenv(WEIGHTS_DIR_ENV, str(folder))
    model = build_model("mobilenet", 3, input_shape=(32, 32, 3), weights=path if where == "path" else "imagenet")
    report = model.transfer_report
    by_name = {layer.name: layer for layer in iter_layers(source)}
    backbone = [layer for layer in iter_layers(model) if layer.weights and layer.name in by_name]
    assert report.transferred == len(source.weights) > 0
    assert sorted(report.transferred_layers) == sorted(layer.name for layer in backbone)
    for layer in backbone:
        for ours, theirs in zip(layer.get_weights(), by_name[layer.name].get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert offline == []  # nothing tried to connect
    assert os.listdir(tmp_path / "keras_home") in ([], ["models"])  # nothing downloaded or written beside it


def test_missing_file_names_file_url_checksum_and_where_to_put_it(offline, tmp_path):
    cache = tmp_path / "keras_home" / "models"
    with pytest.raises(ImagenetWeightsNotFound) as caught:
        build_model("resnet50_fpn_attention", 3, input_shape=(64, 64, 3), weights="imagenet")
    message = str(caught.value)
    file = get_spec("resnet50_fpn_attention").imagenet_source.file
    assert message.startswith("resnet50_fpn_attention: ImageNet weights are not on this machine and could not be "
                              "downloaded (")
    for text in (file.fname, file.origin, f"md5 {file.file_hash}", f"put the file at {cache / file.fname}",
                 "keras-cxr weights fetch resnet50_fpn_attention --dir DIR", f"{WEIGHTS_DIR_ENV}=DIR",
                 "weights=PATH", "94,765,736 bytes"):
        assert text in message
    assert isinstance(caught.value, FileNotFoundError)  # the command line prints it without a traceback
    assert offline  # the download was tried, and refused by the block
    assert os.listdir(cache) == []  # no partial file left under Keras's name (or any other)


def test_a_copy_with_another_checksum_is_refused_and_kept(offline, monkeypatch, tmp_path):
    _, path = _stand_in(tmp_path / "keras_home" / "models", monkeypatch, record_hash=False)
    before = path.read_bytes()
    monkeypatch.setattr(get_spec("mobilenet").imagenet_source, "file",
                        dataclasses.replace(MOBILENET, file_hash="0" * 32))
    with pytest.raises(ImagenetWeightsMismatch, match=f"mobilenet: {path} is not the ImageNet file Keras publishes: "
                                                      f"its md5 is {_md5(path)}, expected {'0' * 32}"):
        build_model("mobilenet", 3, input_shape=(32, 32, 3), weights="imagenet")
    assert path.read_bytes() == before and offline == []
    # Keras publishes no checksum for MobileNet: the published size is checked instead.
    monkeypatch.setattr(get_spec("mobilenet").imagenet_source, "file", MOBILENET)
    with pytest.raises(ImagenetWeightsMismatch, match=r"has [\d,]+ bytes; the file Keras publishes .* has 17,225,924"):
        build_model("mobilenet", 3, input_shape=(32, 32, 3), weights="imagenet")
    assert path.read_bytes() == before


def test_weights_only_h5_that_does_not_fit_and_a_non_hdf5_file_are_named(offline, tmp_path):
    unrelated = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="unrelated")])
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, unrelated)
    with pytest.raises(ImagenetWeightsMismatch, match=f"mobilenet: {other} holds weights only, and they do not fit "
                                                      rf"its ImageNet source \({MOBILENET.fname}, weights of "):
        build_model("mobilenet", 3, input_shape=(32, 32, 3), weights=other)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(ValueError, match=f"Cannot read weights from {junk}: not an HDF5 file"):
        build_model("mobilenet", 3, input_shape=(32, 32, 3), weights=junk)
    assert offline == []


def test_table_matches_keras_sources():
    """Each checksum is in the Keras module that downloads the file; every model with a source has an entry."""
    modules = {"ConvNeXtTiny": "convnext", "ResNet50": "resnet", "ResNet101": "resnet", "DenseNet121": "densenet",
               "DenseNet201": "densenet", "MobileNet": "mobilenet", "VGG16": "vgg16", "InceptionV3": "inception_v3",
               "EfficientNetB0": "efficientnet"}
    for (application, _), file in IMAGENET_FILES.items():
        text = inspect.getsource(importlib.import_module(f"keras.src.applications.{modules[application]}"))
        if file.file_hash:
            assert f'"{file.file_hash}"' in text, (application, file.file_hash)
        else:
            assert "file_hash" not in text.split("def MobileNet")[1].split("def _conv_block")[0]
    for name in list_models():
        spec = get_spec(name)
        assert (spec.imagenet_source is None) == bool(spec.imagenet_note), name
        if spec.imagenet_source is not None:
            assert IMAGENET_FILES[(spec.imagenet_source.application, spec.imagenet_source.include_top)]


HEAVY = pytest.mark.slow  # each builds a full keras.applications network (1-2 s)


@pytest.mark.parametrize("key", [
    pytest.param(key, marks=() if key[0] in ("MobileNet", "VGG16") else HEAVY) for key in IMAGENET_FILES
])
def test_table_is_what_keras_downloads(key, monkeypatch):
    """keras.applications, asked for ImageNet weights, requests exactly the table's file, URL and checksum."""
    from keras.src.utils import file_utils

    requested = []

    class Requested(Exception):
        pass

    def get_file(fname, origin, cache_subdir="datasets", file_hash=None, **kwargs):
        requested.append((fname, origin, cache_subdir, file_hash))
        raise Requested

    monkeypatch.setattr(file_utils, "get_file", get_file)
    with pytest.raises(Requested):
        getattr(keras.applications, key[0])(include_top=key[1], weights="imagenet")
    file = IMAGENET_FILES[key]
    assert requested == [(file.fname, file.origin, "models", file.file_hash)]


def test_weights_list_and_fetch_into_a_folder(offline, monkeypatch, tmp_path, capsys):
    # A connected machine is played by a file:// URL (no socket involved); the published checksum by the stand-in's.
    _, original = _stand_in(tmp_path / "published", monkeypatch)
    file = get_spec("mobilenet").imagenet_source.file
    monkeypatch.setattr(get_spec("mobilenet").imagenet_source, "file",
                        dataclasses.replace(file, origin=original.as_uri()))
    folder = tmp_path / "usb" / "weights"
    assert main(["weights", "fetch", "mobilenet", "resnet18", "--dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"mobilenet: {folder / file.fname} (downloaded; md5 checked)" in out
    assert "resnet18: nothing to fetch (no ImageNet weights: keras.applications has no ResNet-18" in out
    assert os.listdir(folder) == [file.fname] and _md5(folder / file.fname) == file.file_hash
    assert main(["weights", "fetch", "mobilenet", "--dir", str(folder)]) == 0
    assert "(present; md5 checked)" in capsys.readouterr().out

    assert main(["weights", "list", "mobilenet", "resnet18", "--dir", str(folder), "--verify"]) == 0
    out = capsys.readouterr().out
    assert f"cached:   {folder / file.fname} (checksum ok)" in out
    assert "resnet18\n  ImageNet: none: trained from scratch (keras.applications has no ResNet-18" in out
    assert main(["weights", "list", "--json"]) == 0
    rows = {row["name"]: row for row in __import__("json").loads(capsys.readouterr().out)}
    assert set(rows) == set(list_models())
    assert rows["mobilenet"]["cached"] is None  # the folder is not searched without --dir or the variable
    assert rows["convnext_at"]["size"] is None and rows["resnet50"]["size"] == 94765736

    # A download whose checksum is wrong leaves nothing behind; a failed one says so.
    monkeypatch.setattr(get_spec("mobilenet").imagenet_source, "file",
                        dataclasses.replace(file, origin=original.as_uri(), file_hash="0" * 32))
    empty = tmp_path / "empty"
    assert main(["weights", "fetch", "mobilenet", "--dir", str(empty)]) == 2
    assert "file hash does not match" in capsys.readouterr().err and not empty.exists()
    assert offline == []
    # Without internet: the error names the file and the folders looked in; no folder is left behind.
    never = tmp_path / "never"
    assert main(["weights", "fetch", "efficientnet_b0", "--dir", str(never)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-cxr weights: error: efficientnet_b0: ImageNet weights are not on this machine and "
                          "could not be downloaded (")
    assert f"Looked in:\n    {never / 'efficientnet_b0_notop.h5'}".replace("efficientnet_b0_", "efficientnetb0_") in err
    assert offline and not never.exists()
    # Bad folders are named.
    assert main(["weights", "list", "--dir", str(tmp_path / "typo")]) == 2
    assert f"--dir {tmp_path / 'typo'}: no such folder" in capsys.readouterr().err
    assert main(["weights", "fetch", "mobilenet", "--dir", str(original)]) == 2
    assert f"--dir {original} is a file, not a folder" in capsys.readouterr().err


def test_weights_list_honours_keras_home_in_a_fresh_process(tmp_path):
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / MOBILENET.fname).write_bytes(b"not checked by list")
    env = dict(os.environ, KERAS_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(WEIGHTS_DIR_ENV, None)
    result = subprocess.run([sys.executable, "-m", "keras_cxr.cli", "weights", "list", "mobilenet", "vgg80_multibranch"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"cached:   {home / 'models' / MOBILENET.fname}" in result.stdout
    assert "vgg80_multibranch\n  ImageNet: none: trained from scratch (Zhong 2020 trains it from scratch" in result.stdout
