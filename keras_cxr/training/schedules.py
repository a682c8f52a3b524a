"""Learning-rate schedules with warm-up, as serializable Keras schedules.

Keras core replaces what the papers took from tensorflow-addons. All schedules
are functions of the optimizer step: warm-up + cosine is Keras's ``CosineDecay``
and piecewise constant is Keras's ``PiecewiseConstantDecay``, the rest is
written with ``keras.ops``, so they run under any backend. The classes here keep
their names and configs, registered, so a saved model's optimizer reloads.
"""

import keras
from keras import ops

DECAYS = ("cosine", "exponential", "step", "constant")


@keras.saving.register_keras_serializable(package="keras_cxr")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``warmup_start_lr`` to ``peak_lr`` over ``warmup_steps``, then decay.

    Decays (``decay_steps`` counts from the end of warm-up):
        ``cosine``: half-cosine from ``peak_lr`` to ``min_lr`` over ``decay_steps``;
        ``exponential``: ``peak_lr * decay_rate ** (t / step_size)``, floored at ``min_lr``;
        ``step``: multiply by ``decay_rate`` every ``step_size`` steps, floored at ``min_lr``;
        ``constant``: stay at ``peak_lr``.

    Cosine is ``keras.optimizers.schedules.CosineDecay`` (``alpha = min_lr / peak_lr``).
    Exponential and step stay written here: Keras's ``ExponentialDecay`` has neither a warm-up nor a floor.
    """

    def __init__(self, peak_lr, warmup_steps=0, decay="cosine", decay_steps=1, min_lr=0.0, decay_rate=0.1,
                 step_size=1, warmup_start_lr=0.0):
        if decay not in DECAYS:
            raise ValueError(f"Unknown decay {decay!r}. Valid choices: {DECAYS}")
        if peak_lr <= 0 or min_lr < 0 or warmup_steps < 0 or decay_steps < 1 or step_size < 1:
            raise ValueError("peak_lr must be > 0, min_lr and warmup_steps >= 0, decay_steps and step_size >= 1")
        self.peak_lr = float(peak_lr)
        self.warmup_steps = int(warmup_steps)
        self.decay = decay
        self.decay_steps = int(decay_steps)
        self.min_lr = float(min_lr)
        self.decay_rate = float(decay_rate)
        self.step_size = int(step_size)
        self.warmup_start_lr = float(warmup_start_lr)
        self._keras = None
        if decay == "cosine":
            # Keras warms up over steps [0, warmup_steps) and decays from warmup_steps on, as before.
            warm = self.warmup_steps > 0
            self._keras = keras.optimizers.schedules.CosineDecay(
                self.warmup_start_lr if warm else self.peak_lr, self.decay_steps, alpha=self.min_lr / self.peak_lr,
                warmup_target=self.peak_lr if warm else None, warmup_steps=self.warmup_steps)

    def __call__(self, step):
        if self._keras is not None:
            return self._keras(step)
        step = ops.cast(step, "float32")
        warm = float(max(self.warmup_steps, 1))
        warmup_lr = self.warmup_start_lr + (self.peak_lr - self.warmup_start_lr) * ops.minimum(step / warm, 1.0)
        t = ops.maximum(step - self.warmup_steps, 0.0)
        if self.decay == "exponential":
            decayed = ops.maximum(self.peak_lr * ops.power(self.decay_rate, t / self.step_size), self.min_lr)
        elif self.decay == "step":
            decayed = ops.maximum(
                self.peak_lr * ops.power(self.decay_rate, ops.floor(t / self.step_size)), self.min_lr
            )
        else:
            decayed = ops.convert_to_tensor(self.peak_lr, "float32") + 0.0 * t
        return ops.where(step < self.warmup_steps, warmup_lr, decayed)

    def get_config(self):
        return dict(peak_lr=self.peak_lr, warmup_steps=self.warmup_steps, decay=self.decay,
                    decay_steps=self.decay_steps, min_lr=self.min_lr, decay_rate=self.decay_rate,
                    step_size=self.step_size, warmup_start_lr=self.warmup_start_lr)


@keras.saving.register_keras_serializable(package="keras_cxr")
class PiecewiseConstant(keras.optimizers.schedules.LearningRateSchedule):
    """``values[i]`` while ``boundaries[i-1] <= step < boundaries[i]``: Keras's ``PiecewiseConstantDecay``.

    Zhong 2020's three stages (section 4): the paper describes a small warm-up rate, a large
    rate, then a small decay rate; the author's script uses 4e-4 (epochs 0-2),
    2e-4 (3-5) and 1e-4 after. Both are piecewise constant.
    """

    def __init__(self, boundaries, values):
        boundaries = [int(b) for b in boundaries]
        values = [float(v) for v in values]
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"Need one more value than boundaries, got {len(boundaries)} and {len(values)}")
        if boundaries != sorted(boundaries):
            raise ValueError(f"Boundaries must increase, got {boundaries}")
        self.boundaries = boundaries
        self.values = values
        # Keras changes rate after a boundary (step > b), these at it (step >= b): for whole steps, b - 1 in Keras.
        shifted = [b - 1 for b in boundaries]
        self._keras = keras.optimizers.schedules.PiecewiseConstantDecay(shifted, values) if boundaries else None

    def __call__(self, step):
        step = ops.floor(ops.cast(step, "float32"))  # whole steps, so step > b - 1 is step >= b at any step
        if self._keras is None:
            return ops.convert_to_tensor(self.values[0], "float32")
        return self._keras(step)

    def get_config(self):
        return dict(boundaries=self.boundaries, values=self.values)


def three_stage(warmup_lr, peak_lr, decay_lr, warmup_steps, decay_start_step):
    """Zhong 2020's description (section 4): small (warm-up) -> large -> small (decay), piecewise constant."""
    if not warmup_steps <= decay_start_step:
        raise ValueError("warm-up must end before the decay stage starts")
    return PiecewiseConstant([warmup_steps, decay_start_step], [warmup_lr, peak_lr, decay_lr])
