import keras
import pytest

from keras_cxr.data import Manifest
from keras_cxr.training import build_optimizer, build_schedule, class_weights, validate
from keras_cxr.training.schedules import PiecewiseConstant, WarmupDecay


def _manifest(counts):
    records = [{"path": f"{c}{i}.png", "label": c, "patient_id": f"{c}{i}", "source": "t"}
               for c, n in counts.items() for i in range(n)]
    return Manifest(records, list(counts))


def test_balanced_class_weights_follow_n_over_k_count():
    config = validate({"model": {"name": "resnet18"}, "training": {"class_weight": "balanced"}})
    weights = class_weights(config, _manifest({"COVID-19": 10, "Normal": 30, "Pneumonia": 60}))
    assert weights == pytest.approx({0: 100 / (3 * 10), 1: 100 / (3 * 30), 2: 100 / (3 * 60)})


def test_explicit_class_weights_by_name():
    config = validate({"model": {"name": "resnet18"}, "training": {"class_weight": {"COVID-19": 10, "Normal": 3}}})
    assert class_weights(config, _manifest({"COVID-19": 1, "Normal": 1, "Pneumonia": 1})) == {0: 10.0, 1: 3.0, 2: 1.0}
    bad = validate({"model": {"name": "resnet18"}, "training": {"class_weight": {"Covid": 10}}})
    with pytest.raises(ValueError, match="unknown classes"):
        class_weights(bad, _manifest({"COVID-19": 1, "Normal": 1}))


def test_balanced_weights_need_every_class():
    config = validate({"model": {"name": "resnet18"}, "training": {"class_weight": "balanced"}})
    with pytest.raises(ValueError, match="no training images"):
        class_weights(config, Manifest([{"path": "a", "label": "a", "patient_id": "1", "source": "t"}], ["a", "b"]))


@pytest.mark.parametrize("name,cls", [("adam", keras.optimizers.Adam), ("adamw", keras.optimizers.AdamW),
                                      ("nadam", keras.optimizers.Nadam), ("sgd", keras.optimizers.SGD)])
def test_optimizers_by_name(name, cls):
    config = validate({"model": {"name": "resnet18"}, "training": {"optimizer": name, "weight_decay": 1e-4,
                                                                    "nesterov": True}})
    optimizer = build_optimizer(config, steps_per_epoch=10)
    assert isinstance(optimizer, cls) and optimizer.weight_decay == pytest.approx(1e-4)
    if name == "sgd":
        assert optimizer.nesterov and optimizer.momentum == 0.9


def test_schedule_epochs_become_steps():
    config = validate({"model": {"name": "resnet18"}, "training": {"schedule": "warmup_cosine", "warmup_epochs": 2,
                                                                    "epochs": 10}})
    schedule = build_schedule(config, steps_per_epoch=5)
    assert isinstance(schedule, WarmupDecay) and schedule.warmup_steps == 10 and schedule.decay_steps == 40
    piecewise = validate({"model": {"name": "resnet18"}, "training": {"schedule": "piecewise",
                                                                       "boundaries_epochs": [3, 6],
                                                                       "values": [4e-4, 2e-4, 1e-4]}})
    assert build_schedule(piecewise, 7).boundaries == [21, 42]
    assert isinstance(build_schedule(piecewise, 7), PiecewiseConstant)
    assert build_schedule(validate({"model": {"name": "resnet18"}}), 7) == 1e-3


@pytest.mark.parametrize("written,used", [(0, 0.0), (0.0, 0.0), (0.05, 0.05), (None, 0.004)])
def test_adamw_weight_decay_is_used_as_written(written, used):
    config = validate({"model": {"name": "resnet18"}, "training": {"optimizer": "adamw", "weight_decay": written}})
    assert build_optimizer(config, steps_per_epoch=10).weight_decay == pytest.approx(used)


def _rates(schedule, steps):
    return [float(keras.ops.convert_to_numpy(schedule(step))) for step in steps]


def test_three_stage_from_a_config_changes_rate_at_the_epoch_boundaries():
    config = validate({"model": {"name": "resnet18"}, "training": {
        "schedule": "three_stage", "values": [1e-4, 1e-3, 2e-5], "boundaries_epochs": [1, 2.5], "epochs": 4}})
    schedule = build_schedule(config, steps_per_epoch=6)  # boundaries at steps 6 and 15
    assert isinstance(schedule, PiecewiseConstant) and schedule.boundaries == [6, 15]
    assert _rates(schedule, [0, 5, 6, 14, 15, 23]) == pytest.approx([1e-4, 1e-4, 1e-3, 1e-3, 2e-5, 2e-5])
    with pytest.raises(ValueError, match="three_stage needs values"):
        validate({"model": {"name": "resnet18"}, "training": {"schedule": "three_stage", "values": [1e-4, 1e-3],
                                                              "boundaries_epochs": [1, 2]}})


def test_warmup_step_from_a_config_warms_up_then_steps_down_every_decay_epochs():
    config = validate({"model": {"name": "resnet18"}, "training": {
        "schedule": "warmup_step", "learning_rate": 1e-2, "warmup_epochs": 1, "decay_rate": 0.5, "decay_epochs": 2,
        "min_learning_rate": 2e-3, "epochs": 10}})
    schedule = build_schedule(config, steps_per_epoch=5)  # 5 warm-up steps, then halve every 10 steps
    assert isinstance(schedule, WarmupDecay) and schedule.decay == "step"
    assert (schedule.warmup_steps, schedule.step_size, schedule.decay_steps) == (5, 10, 45)
    assert _rates(schedule, [0, 1, 4, 5, 14, 15, 25, 35, 200]) == pytest.approx(
        [0.0, 2e-3, 8e-3, 1e-2, 1e-2, 5e-3, 2.5e-3, 2e-3, 2e-3])  # floored at min_learning_rate
