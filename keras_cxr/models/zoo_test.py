"""Every registered network: builds, predicts probabilities, survives .keras save/load."""

import numpy as np
import pytest
import keras

from keras_cxr.models import build_model, get_spec, list_models, load_model
from keras_cxr.testing import small_shape

REQUIRED = {
    "convnext_tiny", "convnext_at", "vgg80_multibranch", "dpn68", "dpn92", "dpn131", "dpn92_se",
    "resnet18", "resnet50", "resnet101", "resnet50_fpn_attention", "densenet121", "densenet201",
    "covid_densenet", "mobilenet", "efficientnet_b0", "vgg16", "inception_v3",
}
def test_every_required_model_is_registered():
    assert REQUIRED <= set(list_models())


# Larger members of families the default suite already covers (densenet121; dpn68 and dpn92_se; resnet50)
# run with -m slow.
SLOW_ROUND_TRIP = ("densenet201", "dpn131", "dpn92", "resnet101")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_ROUND_TRIP else n
                                  for n in list_models()])
def test_forward_pass_and_keras_round_trip(name, tmp_path):
    from keras_cxr.benchmark.tflite_speed import reestimate_batch_norm

    model = build_model(name, num_classes=3, input_shape=small_shape(name))
    assert isinstance(model, keras.Model)
    x = np.random.RandomState(0).rand(4, *small_shape(name)).astype("float32")
    # At initialisation batch-norm statistics (mean 0, variance 1) saturate or flatten most networks, whose
    # outputs then hardly depend on the input, and a round trip would compare near-constants. Statistics of
    # the inputs make the output depend on them (and on every layer's state, which the round trip must keep).
    reestimate_batch_norm(model, x)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (4, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probs >= 0)
    assert np.abs(probs - probs.mean(axis=0)).max() > 1e-3, "outputs independent of the input: nothing is tested"
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = load_model(path)
    np.testing.assert_allclose(restored.predict(x, verbose=0), probs, rtol=1e-5, atol=1e-5)
    # Explanations find a feature map to explain in every network (keras_cxr.explain).
    from keras_cxr.explain import find_target_layer

    shape = model.get_layer(find_target_layer(model)).output.shape
    assert len(shape) == 4 and shape[1] * shape[2] > 1


# The channel adapter is shared within a family: one network per family (and input adapter).
ONE_CHANNEL = ["convnext_at", "vgg80_multibranch", "dpn92_se", "resnet18", "resnet50", "resnet50_fpn_attention",
               "covid_densenet", "densenet121", "efficientnet_b0", "mobilenet", "inception_v3"]


@pytest.mark.parametrize("name", ONE_CHANNEL)
def test_one_channel_input(name):
    model = build_model(name, num_classes=2, input_shape=small_shape(name, channels=1))
    x = np.random.RandomState(0).rand(1, *small_shape(name, channels=1)).astype("float32")
    probs = model.predict(x, verbose=0)
    assert probs.shape == (1, 2)
    np.testing.assert_allclose(probs.sum(), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["convnext_at", "vgg80_multibranch", "resnet50_fpn_attention"])
def test_default_input_shape_is_the_papers(name):
    expected = (80, 80, 3) if name == "vgg80_multibranch" else (224, 224, 3)
    assert get_spec(name).default_input_shape == expected
    assert tuple(build_model(name, 4).input_shape[1:]) == expected
