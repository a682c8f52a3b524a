"""Training configs: YAML recipes validated against a schema, with command-line overrides.

A config has four sections: ``model``, ``data``, ``training`` and ``paper``
(``id``: the paper's key in :mod:`keras_cxr.papers`; free text: which section
it follows and what had to be assumed). Loading
checks every key: an unknown key, a wrong type or an impossible value is an
error naming the key and the valid choices. ``key.sub=value`` overrides any
key (the value is parsed as YAML: ``training.epochs=5``, ``model.weights=null``).
"""

import copy
import dataclasses
import hashlib
import json
from pathlib import Path

import yaml

from keras_cxr.data.augment import PRESETS

_NUMBER = (int, float)


@dataclasses.dataclass(frozen=True)
class Field:
    types: tuple
    default: object = None
    choices: tuple = None
    minimum: float = None
    doc: str = ""


SCHEMA = {
    "paper": {
        "id": Field((str, type(None)), None, doc="keras_cxr.papers key(s), comma-separated (li2023, zhong2020, ...)"),
        "source": Field((str,), "", doc="paper and section this recipe follows"),
        "assumptions": Field((str,), "", doc="what the paper leaves open and this config chose"),
    },
    "model": {
        "name": Field((str,), None, doc="a registered model name (keras-cxr models)"),
        "options": Field((dict,), {}, doc="keyword options of the model builder"),
        "weights": Field((str, type(None)), None, doc="null, imagenet or a file path"),
        "init_from": Field((str, type(None)), None,
                           doc="fine-tune: start from a trained run directory or .keras file (weights by layer name)"),
        "input_size": Field((int, type(None)), None, minimum=16, doc="height = width; null: paper default"),
        "channels": Field((int,), 3, choices=(1, 3)),
    },
    "data": {
        "classes": Field((list, type(None)), None, doc="class names in order; null: the data's"),
        "val_fraction": Field(_NUMBER, 0.2, minimum=0.0),
        "test_fraction": Field(_NUMBER, 0.0, minimum=0.0),
        "split_seed": Field((int,), 0),
        "train_fraction": Field(_NUMBER, 1.0, minimum=0.0,
                                doc="share of the train split kept (by patient, per class): learning curves"),
        "augment": Field((str,), "none", choices=PRESETS),
        "cache": Field((str, type(None)), "auto", doc="auto (memory when it fits 2 GB), null, memory or a file prefix"),
        "skip_bad": Field((bool,), False),
        "denoise": Field((str, type(None)), None, choices=(None, "tv"),
                         doc="tv: total-variation denoising of every image (training, evaluation, prediction)"),
        "denoise_weight": Field(_NUMBER, 0.05, minimum=0.0, doc="TV weight (scikit-image denoise_tv_chambolle)"),
        "anscombe": Field((bool,), False, doc="denoise: Anscombe variance stabilisation first (Poisson noise)"),
    },
    "training": {
        "epochs": Field((int,), 10, minimum=1),
        "batch_size": Field((int,), 32, minimum=1),
        "optimizer": Field((str,), "adam", choices=("adam", "adamw", "nadam", "sgd")),
        "learning_rate": Field(_NUMBER, 1e-3, minimum=0.0),
        "weight_decay": Field(_NUMBER + (type(None),), None, minimum=0.0,
                              doc="null: the optimizer's default (adamw 0.004, others none); a number is used as written"),
        "momentum": Field(_NUMBER, 0.9, minimum=0.0),
        "nesterov": Field((bool,), False),
        "schedule": Field((str,), "constant", choices=("constant", "warmup_cosine", "warmup_exponential",
                                                       "warmup_step", "piecewise", "three_stage")),
        "warmup_epochs": Field(_NUMBER, 0, minimum=0.0),
        "warmup_start_learning_rate": Field(_NUMBER, 0.0, minimum=0.0,
                                            doc="where the linear warm-up starts (it ends at learning_rate)"),
        "min_learning_rate": Field(_NUMBER, 0.0, minimum=0.0),
        "decay_rate": Field(_NUMBER, 0.1, minimum=0.0),
        "decay_epochs": Field(_NUMBER, 1, minimum=0.0, doc="exponential/step: epochs per decay"),
        "boundaries_epochs": Field((list,), [], doc="piecewise: epochs where the rate changes"),
        "values": Field((list,), [], doc="piecewise: the rates; three_stage: [warm-up, peak, decay]"),
        "label_smoothing": Field(_NUMBER, 0.0, minimum=0.0),
        "class_weight": Field((str, dict, type(None)), None, doc="null, balanced or {class: weight}"),
        "monitor": Field((str,), "val_accuracy"),
        "keep": Field((str,), "best", choices=("best", "last"),
                      doc="model.keras: the best epoch by monitor, or the last epoch (Zhong 2020 reports the last)"),
        "mixed_precision": Field((str, type(None)), None, choices=(None, "mixed_float16", "mixed_bfloat16")),
        "jit_compile": Field((bool, str), "auto"),
        "run_eagerly": Field((bool,), False, doc="no graph tracing: for debugging and seconds-long runs on tiny data "
                                                 "(keras-cxr reproduce --quick), slower per step"),
        "distribution": Field((str,), "default", choices=("default", "mirrored", "data_parallel", "multi_worker"),
                              doc="default: one device; mirrored: the GPUs of one machine (TensorFlow); "
                                  "data_parallel: every device of one or several hosts (JAX); multi_worker: refused"),
        "seed": Field((int,), 0),
        "deterministic": Field((bool,), False),
    },
}


class ConfigError(ValueError):
    """A config key, type or value that cannot be used; the message names it."""


def default_config():
    return {section: {k: copy.deepcopy(f.default) for k, f in fields.items()} for section, fields in SCHEMA.items()}


def _type_names(types):
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def validate(config):
    """Fill defaults and check every key; returns a new, complete config dict."""
    if not isinstance(config, dict):
        raise ConfigError(f"A config is a mapping of sections {list(SCHEMA)}, got {type(config).__name__}")
    resolved = default_config()
    for section, values in config.items():
        if section not in SCHEMA:
            raise ConfigError(f"Unknown config section {section!r}. Valid sections: {list(SCHEMA)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"Config section {section!r} must be a mapping, got {type(values).__name__}")
        for key, value in values.items():
            fields = SCHEMA[section]
            if key not in fields:
                raise ConfigError(f"Unknown key {section}.{key}. Valid keys in {section}: {sorted(fields)}")
            field = fields[key]
            if isinstance(value, bool) and bool not in field.types:
                raise ConfigError(f"{section}.{key} must be {_type_names(field.types)}, got {value!r}")
            if int in field.types and float not in field.types and isinstance(value, float) and value.is_integer():
                value = int(value)
            if float in field.types and isinstance(value, str):
                value = _as_float(value)  # YAML 1.1 reads "1e-4" as a string
            if not isinstance(value, field.types):
                raise ConfigError(f"{section}.{key} must be {_type_names(field.types)}, got {value!r}")
            if field.choices is not None and value not in field.choices:
                raise ConfigError(f"{section}.{key} = {value!r} is not valid. Valid choices: {list(field.choices)}")
            if field.minimum is not None and isinstance(value, _NUMBER) and value < field.minimum:
                raise ConfigError(f"{section}.{key} must be >= {field.minimum}, got {value!r}")
            resolved[section][key] = value
    _check_relations(resolved)
    return resolved


def _as_float(text):
    try:
        return float(text)
    except ValueError:
        return text


def _check_relations(config):
    from keras_cxr.models import list_models

    model = config["model"]
    if model["name"] is None:
        raise ConfigError("model.name is required. Valid choices: " + ", ".join(list_models()))
    if model["name"] not in list_models():
        raise ConfigError(f"model.name = {model['name']!r} is not a registered model. Valid choices: {list_models()}")
    from keras_cxr.models import check_options, get_spec

    try:
        check_options(get_spec(model["name"]), model["options"])
    except ValueError as error:
        raise ConfigError(f"model.options: {error}") from None
    data, training = config["data"], config["training"]
    if data["val_fraction"] + data["test_fraction"] >= 1.0:
        raise ConfigError("data.val_fraction + data.test_fraction must be < 1")
    if data["classes"] is not None and (len(data["classes"]) < 2 or len(set(data["classes"])) != len(data["classes"])):
        raise ConfigError(f"data.classes must list at least two distinct names, got {data['classes']}")
    if not 0.0 < data["train_fraction"] <= 1.0:
        raise ConfigError(f"data.train_fraction must be in (0, 1], got {data['train_fraction']}")
    if data["anscombe"] and data["denoise"] is None:
        raise ConfigError("data.anscombe only applies with data.denoise=tv")
    try:
        from keras_cxr.papers import paper_keys

        paper_keys(config["paper"]["id"])
    except ValueError as error:
        raise ConfigError(f"paper.id: {error}") from None
    if model["weights"] is not None and model["init_from"] is not None:
        raise ConfigError("model.weights and model.init_from are both set: init_from replaces every matching weight; "
                          "set model.weights=null")
    _check_monitor(training["monitor"])
    weight = training["class_weight"]
    if isinstance(weight, str) and weight != "balanced":
        raise ConfigError(f"training.class_weight = {weight!r}: use null, balanced or a mapping {{class: weight}}")
    if not 0 <= training["label_smoothing"] < 1:
        raise ConfigError(f"training.label_smoothing must be in [0, 1), got {training['label_smoothing']}")
    if training["schedule"] == "piecewise" and len(training["values"]) != len(training["boundaries_epochs"]) + 1:
        raise ConfigError("training.schedule piecewise needs len(values) == len(boundaries_epochs) + 1")
    if training["schedule"] == "three_stage" and (len(training["values"]) != 3 or len(training["boundaries_epochs"]) != 2):
        raise ConfigError("training.schedule three_stage needs values [warm-up, peak, decay] and two boundaries_epochs")
    if training["jit_compile"] not in (True, False, "auto"):
        raise ConfigError(f"training.jit_compile must be true, false or auto, got {training['jit_compile']!r}")
    if training["run_eagerly"] and training["jit_compile"] is True:
        raise ConfigError("training.run_eagerly=true cannot compile with XLA: set training.jit_compile=false")
    if training["run_eagerly"] and training["distribution"] == "data_parallel":
        raise ConfigError("training.run_eagerly=true is for debugging on one device: data_parallel runs compiled "
                          "(op by op, XLA's CPU all-reduce aborted here); set training.run_eagerly=false")
    if training["distribution"] == "multi_worker":
        raise ConfigError("training.distribution=multi_worker (tf.distribute.MultiWorkerMirroredStrategy) does not "
                          "train Keras 3 models (https://github.com/keras-team/keras/issues/20585); train on "
                          "several hosts with training.distribution=data_parallel and KERAS_BACKEND=jax "
                          "(README, \"Scaling out\")")


def _check_monitor(monitor):
    """training.monitor must be a value the fit loop logs, known before the first epoch."""
    from keras_cxr.training.recipe import logged_metric_names

    logged = logged_metric_names()
    if monitor not in logged:
        raise ConfigError(f"training.monitor = {monitor!r} is never logged. Valid choices: {logged}")


def parse_override(item):
    """``"training.epochs=5"`` -> ``(("training", "epochs"), 5)``."""
    if "=" not in item:
        raise ConfigError(f"Overrides are key.sub=value, got {item!r}")
    key, raw = item.split("=", 1)
    parts = tuple(p for p in key.strip().split(".") if p)
    if len(parts) < 2:
        raise ConfigError(f"Override {item!r} must name section.key (e.g. training.epochs=5)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"Override {item!r}: cannot parse value ({error})") from None
    return parts, value


def apply_overrides(config, overrides):
    config = copy.deepcopy(config)
    for item in overrides or ():
        parts, value = parse_override(item)
        node = config
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r}: {part} is not a section")
        node[parts[-1]] = value
    return config


def resolve_config_path(path):
    """A YAML path, or the name of a shipped recipe (``li2023/convnext_at``, see keras_cxr.configs)."""
    from keras_cxr.configs import list_recipes, recipe_path

    path = Path(path)
    if path.is_file():
        return path
    if path.suffix in ("", ".yaml") and not path.is_absolute() and path.with_suffix("").as_posix() in list_recipes():
        return recipe_path(path.with_suffix("").as_posix())
    raise FileNotFoundError(f"Config file not found: {path} (nor a shipped recipe: {', '.join(list_recipes())})")


def load_config(path=None, overrides=()):
    """Read a YAML config or shipped recipe (or start from defaults), apply overrides, validate."""
    raw = {}
    if path is not None:
        path = resolve_config_path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: invalid YAML ({error})") from None
    return validate(apply_overrides(raw, overrides))


def fingerprint(config):
    """Hash of what defines a run (the epoch count excluded, so a run can be extended)."""
    reduced = copy.deepcopy(config)
    reduced["training"].pop("epochs", None)
    reduced.pop("paper", None)
    return hashlib.sha256(json.dumps(reduced, sort_keys=True, default=str).encode()).hexdigest()[:16]


def config_differences(old, new, ignore=("training.epochs", "paper")):
    """``["section.key: OLD -> NEW", ...]`` for every key that differs (the run-length keys ignored)."""
    changes = []
    for section in SCHEMA:
        if section in ignore:
            continue
        before, after = old.get(section, {}) or {}, new.get(section, {}) or {}
        for key in sorted(set(before) | set(after)):
            if f"{section}.{key}" in ignore or before.get(key) == after.get(key):
                continue
            changes.append(f"{section}.{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return changes


def dump_config(config):
    return yaml.safe_dump(config, sort_keys=False)
