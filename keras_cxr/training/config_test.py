
import pytest

from keras_cxr.configs import list_recipes, recipe_path
from keras_cxr.papers import citation
from keras_cxr.training.config import (ConfigError, apply_overrides, config_differences, fingerprint, load_config,
                                      validate)

# Each paper's comparison shares one recipe: only these keys may differ between its rows.
MODEL_KEYS = {"name", "options"}


def test_every_shipped_recipe_loads_and_names_its_paper():
    names = set(list_recipes())
    assert {"li2023/convnext_at", "li2023/convnext_tiny", "li2023/convnext_tiny_nl", "li2023/convnext_tiny_eca",
            "li2023/convnext_tiny_gc", "li2023/convnext_tiny_cbam", "li2023/resnet50", "li2023/mobilenet",
            "li2023/efficientnet_b0", "zhong2020/vgg80", "cheng_dpn_se/dpn92_se", "cheng_dpn_se/inception_v3",
            "chen_resnet_ct/resnet50_fpn_attention", "chen_resnet_ct/resnet50", "covid_densenet/covid_densenet",
            "covid_densenet/densenet121", "resnet18_cxr_cpu"} <= names
    assert len([n for n in names if n.startswith("cheng_dpn_se/")]) == 11  # Table 1's ten networks + DPN-SE
    for name in names:
        config, text = load_config(name), recipe_path(name).read_text()
        assert config["paper"]["id"] and config["paper"]["source"] and config["paper"]["assumptions"], name
        assert citation(config["paper"]["id"]), name
        assert text.startswith("#"), f"{name} must say which paper it follows in a comment"
        if "/" in name:
            assert config["paper"]["id"] == name.split("/")[0], name
            assert "Assumption" in text.split("\npaper:")[0], f"{name}: list the assumptions in the header"
        assert "seed 00" not in text.lower(), name


@pytest.mark.parametrize("paper", ["li2023", "cheng_dpn_se", "chen_resnet_ct", "covid_densenet"])
def test_a_papers_comparison_shares_one_recipe(paper):
    configs = {name: load_config(name) for name in list_recipes() if name.startswith(paper + "/")}
    first_name, first = next(iter(configs.items()))
    for name, config in configs.items():
        for section in ("data", "training"):
            assert config[section] == first[section], f"{name} vs {first_name}: {section} differs"
        assert {k: v for k, v in config["model"].items() if k not in MODEL_KEYS} == \
            {k: v for k, v in first["model"].items() if k not in MODEL_KEYS}, name


def test_li2023_table2_variants_replace_layer_scale_as_convnext_at_does():
    from keras_cxr.models import build_model, get_spec

    tiny = get_spec("convnext_tiny").options
    at = get_spec("convnext_at").options
    for key in ("nl", "eca", "gc", "cbam"):
        options = {**tiny, **load_config(f"li2023/convnext_tiny_{key}")["model"]["options"]}
        assert options["attention"] == key and options["layer_scale"] is False
        assert (options["attention_placement"], options["attention_reduction"]) == \
            (at["attention_placement"], at["attention_reduction"]), key
    # The CBAM row of Table 2 is ConvNeXt-AT itself: same layers, same parameter count.
    cbam = load_config("li2023/convnext_tiny_cbam")["model"]
    assert build_model("convnext_tiny", 4, input_shape=(64, 64, 3), **cbam["options"]).count_params() == \
        build_model("convnext_at", 4, input_shape=(64, 64, 3)).count_params()
    assert load_config("li2023/convnext_at")["data"]["denoise"] == "tv"


def test_vgg80_recipe_values():
    config = load_config("zhong2020/vgg80")
    t = config["training"]
    assert t["label_smoothing"] == 0.12 and t["batch_size"] == 32 and t["optimizer"] == "adam"
    assert t["class_weight"] == {"COVID-19": 10.0, "Normal": 3.0, "Pneumonia": 1.0}
    assert t["keep"] == "last" and config["paper"]["id"] == "zhong2020"


def test_recipe_names_and_paths_both_load(tmp_path):
    assert load_config("li2023/convnext_at") == load_config(recipe_path("li2023/convnext_at"))
    with pytest.raises(FileNotFoundError, match="li2023/convnext_at"):
        load_config("li2023/convnext_att")
    with pytest.raises(ConfigError, match="paper.id: Unknown paper 'li2024'"):
        load_config("li2023/convnext_at", ["paper.id=li2024"])


@pytest.mark.parametrize(
    "config,message",
    [
        ({"model": {"name": "resnet18"}, "trainig": {}}, "Unknown config section 'trainig'"),
        ({"model": {"name": "resnet18", "size": 3}}, r"Unknown key model.size. Valid keys in model: \['channels'"),
        ({"model": {"name": "resnet18"}, "training": {"epochs": "ten"}}, "training.epochs must be int"),
        ({"model": {"name": "resnet18"}, "training": {"epochs": 0}}, "training.epochs must be >= 1"),
        ({"model": {"name": "resnet18"}, "training": {"optimizer": "lamb"}}, r"Valid choices: \['adam'"),
        ({"model": {"name": "resnet18"}, "training": {"deterministic": 1}}, "must be bool"),
        ({"model": {"name": "resnet18"}, "data": {"augment": "autoaug"}}, "zhong2020"),
        ({"model": {"name": "resnet1000"}}, "not a registered model"),
        ({"model": {}}, "model.name is required"),
        ({"model": {"name": "resnet18", "options": {"attn": "se"}}}, "does not take option"),
        ({"model": {"name": "resnet18"}, "training": {"class_weight": "inverse"}}, "balanced"),
        ({"model": {"name": "resnet18"}, "training": {"schedule": "piecewise", "values": [1, 2]}}, "piecewise"),
        ({"model": {"name": "resnet18"}, "data": {"val_fraction": 0.7, "test_fraction": 0.4}}, "< 1"),
        ({"model": {"name": "resnet18"}, "training": {"monitor": "val_acc"}}, r"never logged.*'val_accuracy'"),
        ({"model": {"name": "resnet18", "weights": "imagenet", "init_from": "runs/a"}}, "both set"),
        ({"model": {"name": "resnet18"}, "data": {"train_fraction": 0}}, r"train_fraction must be in \(0, 1\]"),
        ({"model": {"name": "resnet18"}, "data": {"anscombe": True}}, "only applies with data.denoise=tv"),
        ({"model": {"name": "resnet18"}, "data": {"denoise": "nlm"}}, r"Valid choices: \[None, 'tv'\]"),
        ({"model": {"name": "resnet18"}, "training": {"keep": "first"}}, r"Valid choices: \['best', 'last'\]"),
        ({"model": {"name": "resnet18"}, "training": {"run_eagerly": True, "jit_compile": True}}, "cannot compile with XLA"),
    ],
)
def test_validation_errors_name_the_key(config, message):
    with pytest.raises(ConfigError, match=message):
        validate(config)


def test_overrides_parse_yaml_values():
    config = load_config(None, ["model.name=vgg80_multibranch", "training.epochs=3", "model.weights=null",
                                "data.classes=[a, b]", "training.learning_rate=1e-4", "model.options.dropout=[0.1, 0.2]"])
    assert config["training"]["epochs"] == 3 and config["model"]["weights"] is None
    assert config["data"]["classes"] == ["a", "b"] and config["training"]["learning_rate"] == 1e-4
    assert config["model"]["options"] == {"dropout": [0.1, 0.2]}
    with pytest.raises(ConfigError, match="section.key"):
        apply_overrides({}, ["epochs=3"])
    with pytest.raises(ConfigError, match="key.sub=value"):
        apply_overrides({}, ["training.epochs"])


def test_fingerprint_ignores_epochs_only():
    a = validate({"model": {"name": "resnet18"}, "training": {"epochs": 2}})
    b = validate({"model": {"name": "resnet18"}, "training": {"epochs": 9}})
    c = validate({"model": {"name": "resnet18"}, "training": {"epochs": 2, "batch_size": 8}})
    assert fingerprint(a) == fingerprint(b) != fingerprint(c)


def test_config_differences_name_each_changed_key():
    a = validate({"model": {"name": "resnet18"}, "training": {"epochs": 2, "learning_rate": 1e-3}})
    b = validate({"model": {"name": "resnet18"}, "training": {"epochs": 9, "learning_rate": 5e-4},
                  "data": {"augment": "zhong2020"}})
    assert config_differences(a, b) == ["data.augment: 'none' -> 'zhong2020'", "training.learning_rate: 0.001 -> 0.0005"]
    assert config_differences(a, a) == []
