from pathlib import Path

import pytest

from keras_cxr.training.config import (ConfigError, apply_overrides, config_differences, fingerprint, load_config,
                                      validate)

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_every_shipped_config_loads():
    names = {p.stem for p in CONFIGS}
    assert {"convnext_at", "convnext_tiny", "convnext_tiny_nl", "convnext_tiny_eca", "convnext_tiny_gc",
            "convnext_tiny_cbam", "vgg80_zhong2020", "dpn92_se", "dpn92", "resnet50_fpn_attention", "resnet50",
            "covid_densenet", "densenet121", "mobilenet", "efficientnet_b0"} <= names
    for path in CONFIGS:
        config = load_config(path)
        assert config["paper"]["source"] and config["paper"]["assumptions"], path
        assert path.read_text().startswith("#"), f"{path} must say which paper it follows in a comment"


def test_vgg80_recipe_values():
    t = load_config(Path(CONFIGS[0]).parent / "vgg80_zhong2020.yaml")["training"]
    assert t["label_smoothing"] == 0.12 and t["batch_size"] == 32 and t["optimizer"] == "adam"
    assert t["class_weight"] == {"COVID-19": 10.0, "Normal": 3.0, "Pneumonia": 1.0}


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
