"""Full int8 TFLite: an integer body inside one XNNPACK partition, agreement of a trained model, metric deltas."""

import json

import keras
import numpy as np
import pytest

from keras_cxr.data.synthetic import CLASSES
from keras_cxr.models import build_model

# What an int8 export keeps float: the uint8 -> float cast and the preprocessing (scale, channel copy, ImageNet
# normalisation) before the one QUANTIZE, the classifier head (global pooling, output Dense, softmax) after the
# one DEQUANTIZE.
PREPROCESSING_OPS = {"CAST", "MUL", "CONCATENATION", "SUB"}
HEAD_OPS = ["MEAN", "FULLY_CONNECTED", "SOFTMAX"]


@pytest.fixture(scope="module")
def int8_export(tmp_path_factory):
    """A small network's int8 export (decisive outputs: structure and report, not agreement, are tested here)."""
    from keras_cxr.export import export_model

    root = tmp_path_factory.mktemp("int8")
    keras.utils.set_random_seed(3)
    model = build_model("resnet18", len(CLASSES), input_shape=(32, 32, 3))
    head = model.get_layer("classifier_predictions")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * 40.0, bias])
    model.save(root / "model.keras")
    (root / "classes.json").write_text(json.dumps(list(CLASSES)))
    export_model(root, root / "export" / "model.tflite", quantize="int8")
    return root / "export" / "model.tflite"


def _ops(path):
    """``[(op name, {dtype names of its tensors})]`` in execution order, delegate nodes left out."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_path=str(path),
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    dtypes = {d["index"]: d["dtype"].__name__ for d in interpreter.get_tensor_details()}
    return [(op["op_name"], {dtypes[t] for t in (*op["inputs"], *op["outputs"]) if t >= 0})
            for op in interpreter._get_ops_details()]


def test_int8_body_has_no_float_op_and_runs_in_one_xnnpack_partition(int8_export):
    ops = _ops(int8_export)
    names = [name for name, _ in ops]
    first, last = names.index("QUANTIZE"), len(names) - 1 - names[::-1].index("DEQUANTIZE")
    assert names.count("QUANTIZE") == names.count("DEQUANTIZE") == 1
    assert set(names[:first]) <= PREPROCESSING_OPS and names[last + 1:] == HEAD_OPS
    floating = [name for name, dtypes in ops[first + 1:last] if "float32" in dtypes]
    assert floating == [] and {"CONV_2D", "ADD", "MAX_POOL_2D"} <= set(names[first:last])
    report = json.loads((int8_export.parent / "export_report.json").read_text())
    assert report["graph"]["xnnpack_partitions"] == 1
    assert report["graph"]["ops_outside_xnnpack"] == {"CAST": 1}  # XNNPACK takes no uint8 -> float cast


def test_int8_report_has_accuracy_and_auc_deltas_on_labelled_images_apart_from_calibration(int8_export):
    report = json.loads((int8_export.parent / "export_report.json").read_text())
    parity = report["parity"]
    assert report["calibration_data"] == "synthetic" and report["calibration_images"] == 32
    assert not report["parity_overlaps_calibration"]  # other synthetic X-rays than the calibration ones
    assert parity["images"] == parity["labelled_images"] == 100
    assert 0.0 <= parity["largest_changed_margin"] <= 1.0
    assert (parity["largest_changed_margin"] == 0.0) == (parity["top1_agreement"] == 1.0)
    for metric in ("accuracy", "macro_auc"):
        figures = parity[metric]
        assert 0.0 <= figures["keras"] <= 1.0 and 0.0 <= figures["export"] <= 1.0
        assert figures["delta"] == pytest.approx(figures["export"] - figures["keras"])
    from keras_cxr.predict.litert import LiteRTModel

    output = LiteRTModel(int8_export).output
    assert output["dtype"] == np.float32 and not output["quantization"][0]  # probabilities, not 1/256 steps


@pytest.mark.slow
def test_int8_agrees_with_keras_on_a_trained_model(tmp_path):
    """resnet18 at 64 px trained on synthetic X-rays: random weights give near-ties, no parity test (~30 s)."""
    from keras_cxr.benchmark.tflite_speed import train_briefly
    from keras_cxr.export import export_model

    keras.utils.set_random_seed(0)
    model = build_model("resnet18", len(CLASSES), input_shape=(64, 64, 3))
    train_briefly(model, steps=100)
    model.save(tmp_path / "model.keras")
    (tmp_path / "classes.json").write_text(json.dumps(list(CLASSES)))
    parity = export_model(tmp_path, tmp_path / "export" / "model.tflite", quantize="int8")["parity"]
    assert parity["accuracy"]["keras"] > 0.5  # trained: far above the 0.25 of chance
    assert parity["top1_agreement"] >= 0.99
    assert abs(parity["accuracy"]["delta"]) <= 0.02 and abs(parity["macro_auc"]["delta"]) <= 0.02


def _layer_norm():
    return keras.layers.LayerNormalization(epsilon=1e-6, name="norm")


def _cbam():
    from keras_cxr.layers import CBAM

    return CBAM(reduction=2, name="cbam")


@pytest.mark.parametrize("layer, float_ops, float_convs", [
    # XNNPACK has no int8 SQUARED_DIFFERENCE/RSQRT: quantised, ConvNeXt's LayerNorms split it into 66 partitions.
    (_layer_norm, {"SQUARED_DIFFERENCE", "RSQRT"}, 0),
    # int8 CBAM clipped the attended features to the range of its concatenated [mean, max] maps.
    (_cbam, {"REDUCE_MAX", "CONCATENATION", "LOGISTIC"}, 1),  # its spatial-attention convolution
])
def test_layers_that_int8_breaks_stay_float_inside_the_xnnpack_partition(tmp_path, layer, float_ops, float_convs):
    from keras_cxr.export.edge_graph import build_edge_model
    from keras_cxr.export.saved_model import export_saved_model
    from keras_cxr.export.tflite import convert
    from keras_cxr.predict.litert import LiteRTModel

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = layer()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    edge = build_edge_model(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)))
    export_saved_model(edge, tmp_path / "sm")
    images = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 1), dtype=np.uint8)
    (tmp_path / "m.tflite").write_bytes(convert(tmp_path / "sm", "int8", representative_images=images, model=edge))
    ops = _ops(tmp_path / "m.tflite")
    floating = [name for name, dtypes in ops if "float32" in dtypes]
    assert float_ops <= set(floating) and floating.count("CONV_2D") == float_convs  # the model's two stay int8
    assert [name for name, _ in ops].count("QUANTIZE") == 2  # the image, and the layer's output
    lite = LiteRTModel(tmp_path / "m.tflite")
    assert lite.graph_summary()["ops_outside_xnnpack"] == {"CAST": 1}
    assert np.abs(lite.predict_uint8(images) - edge.predict(images, verbose=0)).max() < 0.02
