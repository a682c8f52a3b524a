"""Exact architecture facts from the papers (PAPERS.md)."""

import numpy as np
import pytest
import keras

from keras_cxr.layers import ATTENTION_LAYERS, CBAM, LayerScale, NonLocal, SqueezeExcite
from keras_cxr.models import build_model, profile, transfer_weights
from keras_cxr.models.weights import iter_layers


def _weighted_layers(model):
    return {layer.name: [tuple(w.shape) for w in layer.weights] for layer in iter_layers(model) if layer.weights}


@pytest.mark.parametrize("num_classes", [3, 4])
def test_convnext_tiny_matches_keras_applications(num_classes):
    ours = build_model("convnext_tiny", num_classes, input_shape=(64, 64, 3))
    ref = keras.applications.ConvNeXtTiny(weights=None, classes=num_classes, input_shape=(64, 64, 3))
    assert ours.count_params() == ref.count_params()
    assert _weighted_layers(ours) == _weighted_layers(ref)


def test_convnext_at_has_cbam_in_every_block_and_no_layer_scale():
    model = build_model("convnext_at", 4, input_shape=(64, 64, 3))
    kinds = [type(layer) for layer in model.layers]
    assert kinds.count(CBAM) == 18
    assert LayerScale not in kinds
    first = build_model("convnext_at", 4, input_shape=(64, 64, 3), attention_placement="first")
    assert [type(layer) for layer in first.layers].count(CBAM) == 4
    # CBAM in all blocks adds its MLPs and spatial convs, layer scale's 6,624 gammas go.
    base = build_model("convnext_tiny", 4, input_shape=(64, 64, 3))
    cbam_params = sum(layer.count_params() for layer in model.layers if isinstance(layer, CBAM))
    assert model.count_params() == base.count_params() + cbam_params - 6624


@pytest.mark.parametrize("attention", ["nl", "eca", "gc", "cbam", "se"])
def test_convnext_tiny_attention_variants(attention):
    model = build_model("convnext_tiny", 4, input_shape=(64, 64, 3), attention=attention, attention_placement="first")
    cls = ATTENTION_LAYERS[attention]
    assert sum(isinstance(layer, cls) for layer in model.layers) == 4


def test_vgg80_multibranch_has_the_papers_exact_parameter_count():
    for pooling in ("max", "avg"):
        model = build_model("vgg80_multibranch", 3, branch_pooling=pooling)
        assert model.count_params() == 63_148_835
    assert model.get_layer("branch_b_flatten").output.shape[-1] == 10 * 10 * 128


@pytest.mark.parametrize("name,reference", [("dpn68", 12.61e6), ("dpn92", 37.67e6), ("dpn131", 79.25e6)])
def test_dpn_parameter_counts_match_the_reference(name, reference):
    # Reference counts (timm / the DPN paper) are PyTorch parameters: trainable only, 1000 classes.
    trainable = profile(build_model(name, 1000, input_shape=(64, 64, 3)))["trainable_params"]
    assert abs(trainable - reference) / reference < 0.01


def test_dpn92_se_adds_se_to_every_dual_path_block():
    model = build_model("dpn92_se", 4, input_shape=(64, 64, 3))
    assert sum(isinstance(layer, SqueezeExcite) for layer in model.layers) == 3 + 4 + 20 + 3


@pytest.mark.parametrize("design,width,smoothing", [("light", 128, keras.layers.DepthwiseConv2D),
                                                     ("full", 256, keras.layers.Conv2D)])
def test_resnet50_fpn_attention_structure(design, width, smoothing):
    model = build_model("resnet50_fpn_attention", 3, input_shape=(64, 64, 3), design=design)
    nl = [layer.name for layer in model.layers if isinstance(layer, NonLocal)]
    assert nl == ["conv3_block4_nl", "conv4_block6_nl", "conv5_block3_nl"]
    for level, stride in zip(range(2, 6), (4, 8, 16, 32)):
        output = model.get_layer(f"fpn_output{level}")
        assert type(output) is smoothing
        assert tuple(output.output.shape[1:]) == (64 // stride, 64 // stride, width)
    assert model.get_layer("fpn_fusion").output.shape[-1] == 4 * width


@pytest.mark.parametrize("name", ["dpn68", pytest.param("dpn92_se", marks=pytest.mark.slow)])  # one head builder
def test_dpn_head_is_concat_bn_relu_pool_classifier(name):
    """As the DPN authors' MXNet code (conv5_x_x__relu-sp) and Cadene's port: concat -> BN -> ReLU -> pool -> FC."""
    model = build_model(name, 4, input_shape=(64, 64, 3))
    pool = model.get_layer("classifier_pool")
    act = model.get_layer("conv5_relu")
    assert pool.input is act.output
    assert act.activation is keras.activations.relu
    assert isinstance(model.get_layer("conv5_bn"), keras.layers.BatchNormalization)
    assert model.get_layer("conv5_bn").input is model.get_layer("conv5_output").output
    assert model.get_layer("classifier_predictions").input is pool.output
    # BatchNorm centred on the data: half its outputs are negative; the pooled features are >= 0 (ELU's are not).
    x = np.random.RandomState(0).rand(2, 64, 64, 3)
    bn = model.get_layer("conv5_bn")
    bn_input = keras.Model(model.input, bn.input).predict(x, verbose=0)
    bn.moving_mean.assign(bn_input.mean(axis=(0, 1, 2)))
    assert keras.Model(model.input, bn.output).predict(x, verbose=0).min() < 0.0
    features = keras.Model(model.input, pool.input).predict(x, verbose=0)
    assert features.min() == 0.0 and features.max() > 0.0
    # timm's ELU head stays available.
    elu = build_model(name, 4, input_shape=(64, 64, 3), final_activation="elu")
    assert elu.get_layer("classifier_pool").input is elu.get_layer("conv5_elu").output
    with pytest.raises(ValueError, match="final_activation"):
        build_model(name, 4, input_shape=(64, 64, 3), final_activation="gelu")


def test_resnet50_v1_reproduces_keras_applications():
    ours = build_model("resnet50", 3, input_shape=(64, 64, 3), variant="v1")
    ref = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(64, 64, 3))
    transfer_weights(ours, ref)
    features = keras.Model(ours.input, ours.get_layer("conv5_block3_out").output)
    x = np.random.RandomState(0).rand(2, 64, 64, 3).astype("float32")
    expected = ref.predict(keras.applications.resnet50.preprocess_input(x * 255.0), verbose=0)
    np.testing.assert_allclose(features.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-4)


def test_covid_densenet_fuses_three_attended_scales():
    model = build_model("covid_densenet", 4, input_shape=(64, 64, 3))
    assert sum(isinstance(layer, CBAM) for layer in model.layers) == 3
    assert model.get_layer("scale_fusion").output.shape[-1] == 256 * 4


@pytest.mark.parametrize("name,published", [("convnext_tiny", 4.47), ("resnet50", 4.11)])
def test_gmacs_match_published_figures(name, published):
    gmacs = profile(build_model(name, 1000))["gmacs"]
    assert abs(gmacs - published) / published < 0.05


def test_profile_counts_attention_costs():
    base = profile(build_model("convnext_tiny", 4))
    at = profile(build_model("convnext_at", 4))
    assert at["macs"] > base["macs"]
    assert at["params"] == at["trainable_params"]


def test_convnext_tiny_computes_what_keras_applications_computes():
    """Faster CPU kernels, same function: outputs and training gradients match ConvNeXtTiny's."""
    import tensorflow as tf

    ref = keras.applications.ConvNeXtTiny(weights=None, classes=4, input_shape=(64, 64, 3))
    ours = build_model("convnext_tiny", 4, input_shape=(64, 64, 3))
    rng = np.random.default_rng(0)
    # Non-trivial layer scale so every block contributes (its ImageNet values are far from 1e-6).
    for layer in ref.layers:
        if "layer_scale" in layer.name:
            layer.set_weights([rng.uniform(0.2, 1.0, w.shape).astype("float32") for w in layer.get_weights()])
    assert transfer_weights(ours, ref).transferred == len(ref.weights)
    x = rng.random((2, 64, 64, 3), dtype="float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x * 255.0, verbose=0), atol=1e-5)

    def gradients(model, images):
        weights = {layer.name: layer.trainable_weights for layer in iter_layers(model) if layer.trainable_weights}
        with tf.GradientTape() as tape:
            loss = keras.losses.categorical_crossentropy(np.eye(4)[[1, 3]], model(images, training=True))
        grads = tape.gradient(loss, weights)
        return {f"{name}/{i}": g.numpy() for name, gs in grads.items() for i, g in enumerate(gs)}

    ours_grads, ref_grads = gradients(ours, x), gradients(ref, x * 255.0)
    assert ours_grads.keys() == ref_grads.keys()
    for name, g in ref_grads.items():
        np.testing.assert_allclose(ours_grads[name], g, rtol=1e-3, atol=1e-4 * max(1.0, float(np.abs(g).max())),
                                   err_msg=name)
