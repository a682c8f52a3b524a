import pytest

from keras_cxr.models import build_model, get_spec, list_models


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="convnext_at"):
        build_model("convnext_huge", 4)


@pytest.mark.parametrize(
    "name,shape,message",
    [
        ("convnext_at", (16, 16, 3), "at least 32"),
        ("inception_v3", (64, 64, 3), "at least 75"),
        ("resnet50_fpn_attention", (100, 100, 3), "multiples of 32"),
        ("dpn92", (64, 64, 2), "channels must be 1 or 3"),
        ("dpn92", (64, 64), r"\(height, width, channels\)"),
    ],
)
def test_impossible_input_shapes_are_clear_errors(name, shape, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, 4, input_shape=shape)


def test_unknown_option_lists_the_valid_options():
    with pytest.raises(ValueError, match="attention_placement"):
        build_model("convnext_at", 4, input_shape=(32, 32, 3), layer_scael=False)


def test_bad_option_values_are_clear_errors():
    with pytest.raises(ValueError, match="Valid choices"):
        build_model("convnext_tiny", 4, input_shape=(32, 32, 3), attention="transformer")
    with pytest.raises(ValueError, match="first"):
        build_model("convnext_at", 4, input_shape=(32, 32, 3), attention_placement="last")
    with pytest.raises(ValueError, match="avg"):
        build_model("vgg80_multibranch", 3, branch_pooling="median")
    with pytest.raises(ValueError, match="v1.5"):
        build_model("resnet50", 3, input_shape=(32, 32, 3), variant="v2")


@pytest.mark.parametrize("num_classes", [1, 0, 2.5, "4"])
def test_num_classes_must_be_an_integer_of_at_least_two(num_classes):
    with pytest.raises(ValueError, match="num_classes"):
        build_model("resnet18", num_classes, input_shape=(32, 32, 3))


def test_every_spec_has_paper_and_description():
    for name in list_models():
        spec = get_spec(name)
        assert spec.paper and spec.description
        assert spec.default_input_shape[-1] == 3


def test_every_paper_key_names_a_source_paper():
    from keras_cxr.papers import BASELINE, PAPERS, paper_keys

    for name in list_models():
        keys = paper_keys(get_spec(name).paper)
        assert keys and set(keys) <= set(PAPERS) | {BASELINE}, (name, keys)
    assert get_spec("resnet50").paper == "li2023,cheng_dpn_se,chen_resnet_ct"
    assert get_spec("convnext_at").paper == "li2023"
    assert get_spec("dpn92_se").paper == "cheng_dpn_se"


def test_model_options_are_checked_by_kind_against_their_defaults():
    from keras_cxr.models.registry import check_options

    with pytest.raises(ValueError, match=r"vgg80_multibranch option dropout=0.5: .*list of numbers"):
        build_model("vgg80_multibranch", 3, dropout=0.5)  # a tuple, one rate per dense layer
    with pytest.raises(ValueError, match=r"option attention_reduction='8': .*a number"):
        build_model("convnext_at", 3, attention_reduction="8")
    with pytest.raises(ValueError, match=r"option layer_scale=1: .*true or false"):
        build_model("convnext_tiny", 3, layer_scale=1)
    with pytest.raises(ValueError, match=r"option attention=3: .*a str"):
        build_model("covid_densenet", 3, attention=3)
    # What configs legitimately pass: null for "no attention", YAML lists for tuples, ints for floats.
    check_options(get_spec("convnext_at"), {"attention": None, "dropout": 0, "drop_path_rate": 0.1})
    check_options(get_spec("vgg80_multibranch"), {"dropout": [0.3, 0.2]})
    check_options(get_spec("resnet50_fpn_attention"), {"attention_stages": [4, 5], "fpn_channels": 128})
