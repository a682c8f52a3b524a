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


def test_seed002_script_and_paper_stages():
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
