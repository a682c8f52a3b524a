import math

import keras
import numpy as np
import pytest

from keras_cxr.training.schedules import PiecewiseConstant, WarmupDecay, three_stage


def lr(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def test_warmup_then_cosine():
    s = WarmupDecay(1e-3, warmup_steps=10, decay="cosine", decay_steps=100, min_lr=1e-5)
    assert lr(s, 0) == 0.0
    assert lr(s, 5) == pytest.approx(5e-4)
    assert lr(s, 10) == pytest.approx(1e-3)
    assert lr(s, 60) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * 0.5)))
    assert lr(s, 110) == pytest.approx(1e-5)
    assert lr(s, 500) == pytest.approx(1e-5)


def test_warmup_then_exponential_and_step():
    exp = WarmupDecay(1e-2, warmup_steps=4, decay="exponential", decay_rate=0.5, step_size=10, min_lr=1e-4)
    assert lr(exp, 2) == pytest.approx(5e-3)
    assert lr(exp, 14) == pytest.approx(5e-3)
    assert lr(exp, 1000) == pytest.approx(1e-4)
    step = WarmupDecay(1e-2, warmup_steps=0, decay="step", decay_rate=0.1, step_size=30)
    assert [lr(step, s) for s in (0, 29, 30, 61)] == pytest.approx([1e-2, 1e-2, 1e-3, 1e-4])


def test_zhong2020_script_and_paper_stages():
    script = PiecewiseConstant([30, 60], [4e-4, 2e-4, 1e-4])  # 10 steps per epoch: epochs 0-2, 3-5, 6+
    assert [lr(script, s) for s in (0, 29, 30, 59, 60, 999)] == pytest.approx([4e-4, 4e-4, 2e-4, 2e-4, 1e-4, 1e-4])
    paper = three_stage(1e-4, 1e-3, 1e-4, warmup_steps=5, decay_start_step=50)
    assert [lr(paper, s) for s in (0, 5, 49, 50)] == pytest.approx([1e-4, 1e-3, 1e-3, 1e-4])


@pytest.mark.parametrize("schedule", [WarmupDecay(1e-3, 5, "cosine", 50), PiecewiseConstant([3], [1e-3, 1e-4])])
def test_schedules_serialize(schedule):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    for step in (0, 3, 7, 60):
        assert lr(restored, step) == pytest.approx(lr(schedule, step))


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="cosine"):
        WarmupDecay(1e-3, decay="linear")
    with pytest.raises(ValueError, match="one more value"):
        PiecewiseConstant([1, 2], [1e-3])
    assert np.isfinite(lr(WarmupDecay(1e-3, 0, "constant"), 10))


# The cases build_schedule makes: warm-up or none, from 0 or a start rate, decaying to 0 or a floor.
COSINE_CASES = [dict(peak_lr=1e-3, warmup_steps=10, decay_steps=100, min_lr=1e-5),
                dict(peak_lr=3e-4, warmup_steps=0, decay_steps=7, min_lr=0.0),
                dict(peak_lr=1e-2, warmup_steps=3, decay_steps=1, min_lr=1e-4, warmup_start_lr=1e-3),
                dict(peak_lr=5e-4, warmup_steps=1, decay_steps=40, min_lr=0.0)]


def _edges(warmup, decay):
    """Every step near where the schedule changes shape, and well past the end."""
    return sorted({0, 1, max(warmup - 1, 0), warmup, warmup + 1, warmup + decay // 2, warmup + decay - 1,
                   warmup + decay, warmup + decay + 1, 10 * (warmup + decay)})


def _warmup_cosine_reference(step, peak_lr, warmup_steps, decay_steps, min_lr, warmup_start_lr=0.0):
    """What WarmupDecay computed before it was Keras's CosineDecay, in float64."""
    if step < warmup_steps:
        return warmup_start_lr + (peak_lr - warmup_start_lr) * step / warmup_steps
    progress = min((step - warmup_steps) / decay_steps, 1.0)
    return min_lr + 0.5 * (peak_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


@pytest.mark.parametrize("case", COSINE_CASES)
def test_warmup_cosine_matches_its_formula_at_every_edge(case):
    schedule = WarmupDecay(decay="cosine", **case)
    float32 = 1e-6 * case["peak_lr"]  # 1 + cos(pi * progress) loses digits near the end in float32
    for step in _edges(case["warmup_steps"], case["decay_steps"]):
        assert lr(schedule, step) == pytest.approx(_warmup_cosine_reference(step, **case), rel=1e-6, abs=float32), step


@pytest.mark.parametrize("boundaries,values", [([30, 60], [4e-4, 2e-4, 1e-4]), ([0, 5], [1.0, 2.0, 3.0]),
                                               ([5, 5], [1.0, 2.0, 3.0]), ([1], [1e-3, 1e-4]), ([], [2e-4])])
def test_piecewise_changes_rate_at_each_boundary(boundaries, values):
    schedule = PiecewiseConstant(boundaries, values)
    steps = sorted({0, 1, 2, 200, *boundaries, *(b - 1 for b in boundaries), *(b + 1 for b in boundaries)} - {-1})
    # values[i] while boundaries[i-1] <= step < boundaries[i], in float32 as the optimizer gets it
    expected = [np.float32(values[sum(step >= b for b in boundaries)]) for step in steps]
    assert [lr(schedule, s) for s in steps] == expected
    assert lr(schedule, 29.5) == lr(schedule, 29)  # between optimizer steps: the rate of the step begun


# Optimizer configs exactly as .keras files and checkpoints written before hold them.
SAVED_SCHEDULES = [
    {"module": "keras_cxr.training.schedules", "class_name": "WarmupDecay", "registered_name": "keras_cxr>WarmupDecay",
     "config": {"peak_lr": 0.001, "warmup_steps": 4, "decay": "cosine", "decay_steps": 20, "min_lr": 1e-05,
                "decay_rate": 0.1, "step_size": 1, "warmup_start_lr": 0.0001}},
    {"module": "keras_cxr.training.schedules", "class_name": "PiecewiseConstant",
     "registered_name": "keras_cxr>PiecewiseConstant",
     "config": {"boundaries": [5, 50], "values": [0.0001, 0.001, 0.0001]}},
]


@pytest.mark.parametrize("saved", SAVED_SCHEDULES)
def test_saved_schedule_configs_still_load_and_save_alike(saved):
    schedule = keras.saving.deserialize_keras_object(saved)
    assert type(schedule).__name__ == saved["class_name"]
    assert keras.saving.serialize_keras_object(schedule) == saved
    if saved["class_name"] == "WarmupDecay":
        assert [lr(schedule, s) for s in (0, 2, 4, 24, 30)] == pytest.approx([1e-4, 5.5e-4, 1e-3, 1e-5, 1e-5])
    else:
        assert [lr(schedule, s) for s in (4, 5, 49, 50)] == pytest.approx([1e-4, 1e-3, 1e-3, 1e-4])


@pytest.mark.parametrize("schedule", [WarmupDecay(1e-3, 2, "cosine", 20, min_lr=1e-5, warmup_start_lr=1e-4),
                                      PiecewiseConstant([1, 3], [1e-3, 5e-4, 1e-4])])
def test_a_saved_model_resumes_with_its_schedule(tmp_path, schedule):
    from keras_cxr.models import load_model

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(schedule), loss="mse")
    model.fit(np.zeros((4, 2)), np.zeros((4, 1)), batch_size=2, epochs=1, verbose=0)  # two optimizer steps
    model.save(tmp_path / "m.keras")
    optimizer = load_model(tmp_path / "m.keras", compile=True).optimizer
    restored = optimizer._learning_rate  # the schedule itself (``learning_rate`` is its value now)
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    assert int(optimizer.iterations.numpy()) == 2
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(lr(schedule, 2))


def test_the_warm_up_start_is_reachable_from_a_config():
    """``training.warmup_start_learning_rate``: the first step's rate, rising linearly to learning_rate."""
    from keras_cxr.training import build_schedule, validate

    config = validate({"model": {"name": "resnet18"}, "training": {
        "schedule": "warmup_cosine", "learning_rate": 1e-3, "warmup_epochs": 1, "epochs": 3,
        "warmup_start_learning_rate": 1e-4}})
    schedule = build_schedule(config, steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10)]
    assert rates == pytest.approx([1e-4, 5.5e-4, 1e-3], rel=1e-5)
    assert float(build_schedule(validate({"model": {"name": "resnet18"}, "training": {
        "schedule": "warmup_cosine", "warmup_epochs": 1, "epochs": 3}}), 10)(0)) == 0.0  # the default: from zero
