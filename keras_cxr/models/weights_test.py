"""Pretrained-weight transfer, proven without internet on randomly initialised sources."""

import numpy as np
import pytest
import keras

from keras_cxr.models import build_model, weights as weights_module
from keras_cxr.models.weights import iter_layers


def _assert_transferred(model, source, report):
    by_name = {layer.name: layer for layer in iter_layers(source)}
    assert report.transferred > 0
    for name in report.transferred_layers:
        ours = model.get_layer(name).get_weights()
        theirs = by_name[name].get_weights()
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_convnext_at_loads_a_saved_keras_applications_convnext(tmp_path):
    source = keras.applications.ConvNeXtTiny(weights=None, include_top=True)
    path = tmp_path / "convnext_tiny.keras"
    source.save(path)
    model = build_model("convnext_at", 4, input_shape=(64, 64, 3), weights=path)
    report = model.transfer_report
    _assert_transferred(model, source, report)
    # Every ConvNeXt tensor but layer scale (removed) and the 1000-way dense arrives.
    assert report.transferred == len(source.weights) - 18 - 2
    assert report.shape_mismatch == ["convnext_tiny_head_dense"]
    assert all("cbam" in name for name in report.new_layers)


def test_imagenet_path_uses_keras_applications_source(monkeypatch):
    # Same code path as weights="imagenet", with keras.applications building random weights.
    monkeypatch.setattr(weights_module, "IMAGENET_WEIGHTS", None)
    model = build_model("resnet50_fpn_attention", 3, input_shape=(64, 64, 1), weights="imagenet")
    report = model.transfer_report
    assert report.transferred == 318  # all of ResNet-50 (no top) but nothing else
    assert {"conv3_block4_nl", "fpn_lateral2", "classifier_predictions"} <= set(report.new_layers)


@pytest.mark.parametrize("name", ["covid_densenet", "efficientnet_b0", "densenet121", "mobilenet", "convnext_tiny"])
def test_imagenet_sources_map_onto_every_backbone_tensor(name, monkeypatch):
    monkeypatch.setattr(weights_module, "IMAGENET_WEIGHTS", None)
    model = build_model(name, 3, input_shape=(96, 96, 3), weights="imagenet")
    report = model.transfer_report
    assert not report.shape_mismatch or report.shape_mismatch == ["convnext_tiny_head_dense"]
    backbone_new = [n for n in report.new_layers if not n.startswith(("scale", "classifier"))]
    assert backbone_new == []


def test_networks_without_imagenet_weights_say_so():
    with pytest.raises(ValueError, match=r"dpn92 has no ImageNet weights: keras.applications has no DPN; "
                                         r"Cheng et al\. \(DPN-SENet\)'s recipe trains every network from scratch"):
        build_model("dpn92", 4, input_shape=(64, 64, 3), weights="imagenet")
    with pytest.raises(ValueError, match=r"resnet18 has no ImageNet weights: keras.applications has no ResNet-18"):
        build_model("resnet18", 4, input_shape=(64, 64, 3), weights="imagenet")
    with pytest.raises(ValueError, match=r"vgg80_multibranch has no ImageNet weights: Zhong 2020 trains it from"):
        build_model("vgg80_multibranch", 3, weights="imagenet")


def test_missing_and_unsupported_weight_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.keras"):
        build_model("resnet18", 4, input_shape=(64, 64, 3), weights=tmp_path / "nothing.keras")
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"0")
    with pytest.raises(ValueError, match="weights.bin"):
        build_model("resnet18", 4, input_shape=(64, 64, 3), weights=bad)


def test_own_weights_round_trip_through_weights_h5(tmp_path):
    model = build_model("resnet18", 4, input_shape=(64, 64, 3))
    path = tmp_path / "resnet18.weights.h5"
    model.save_weights(path)
    clone = build_model("resnet18", 4, input_shape=(64, 64, 3), weights=path)
    x = np.random.RandomState(0).rand(1, 64, 64, 3).astype("float32")
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_unrelated_source_is_an_error(tmp_path):
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="unrelated")])
    path = tmp_path / "unrelated.keras"
    source.save(path)
    with pytest.raises(ValueError, match="No weights"):
        build_model("resnet18", 4, input_shape=(64, 64, 3), weights=path)
