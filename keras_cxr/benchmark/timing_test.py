import threading
import time
import types

import numpy as np

from keras_cxr.benchmark import timing
from keras_cxr.benchmark.timing import PeakMemory, interleaved_windows, timed_windows


class _Clock:
    """A fake ``time.perf_counter``: time moves only when a step says so, so no figure depends on the machine."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


def _fake_clock(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(timing, "time", types.SimpleNamespace(perf_counter=clock))  # this module's clock only
    return clock


def test_interleaved_windows_alternate_and_reverse_every_other_window(monkeypatch):
    clock, calls = _fake_clock(monkeypatch), []

    def step(name, seconds):
        def run():
            calls.append(name)
            clock.advance(seconds)
        return run

    rates = interleaved_windows({"a": step("a", 0.5), "b": step("b", 0.25)}, items_per_step=4, windows=3, steps=2,
                                warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    # 4 items per step, 2 steps per window: 8 items in 1 s for a, in 0.5 s for b; the warm-up is not timed.
    assert rates == {"a": [8.0, 8.0, 8.0], "b": [16.0, 16.0, 16.0]}


def test_timed_windows_count_items_per_second(monkeypatch):
    clock, durations = _fake_clock(monkeypatch), iter([7.0, 0.02, 0.02, 0.02, 0.05, 0.05, 0.05])

    rates = timed_windows(lambda: clock.advance(next(durations)), items_per_step=10, windows=2, steps=3, warmup=1)
    # The 7 s warm-up call is left out; each window is 3 steps of 10 items.
    np.testing.assert_allclose(rates, [30 / 0.06, 30 / 0.15])
    assert next(durations, None) is None  # 1 warm-up + 2 windows x 3 steps, nothing more


def test_peak_memory_keeps_the_largest_sample_above_the_start(monkeypatch):
    readings, done = [100, 700, 300, 250], threading.Event()  # entry, then the sampler's; the last one stays

    def rss():
        if len(readings) == 1:
            done.set()
            return readings[0]
        return readings.pop(0)

    monkeypatch.setattr(timing, "_rss_bytes", rss)
    with PeakMemory(interval=0.001) as memory:
        assert done.wait(60)  # the sampler thread has taken every reading (a guard against a hang, not a timing)
    assert (memory.start, memory.peak, memory.increase) == (100, 700, 600)
    assert not memory._thread.is_alive()


def test_peak_memory_sees_a_real_allocation_while_it_lives():
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        deadline = time.monotonic() + 60
        while memory.peak < memory.start + 48 * 2**20 and time.monotonic() < deadline:
            time.sleep(0.005)  # held until the sampler has seen it, however slow the machine
        del block
    assert memory.start > 0 and memory.increase >= 48 * 2**20
