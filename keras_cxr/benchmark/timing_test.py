import numpy as np

from keras_cxr.benchmark.timing import PeakMemory, interleaved_windows, timed_windows


def test_interleaved_windows_alternate_and_reverse_every_other_window():
    calls = []
    rates = interleaved_windows({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                items_per_step=4, windows=3, steps=2, warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] + ["b", "b", "a", "a"] + ["a", "a", "b", "b"]
    assert set(rates) == {"a", "b"} and all(len(r) == 3 and min(r) > 0 for r in rates.values())


def test_timed_windows_count_items_per_second():
    import time

    rates = timed_windows(lambda: time.sleep(0.02), items_per_step=10, windows=2, steps=1, warmup=0)
    assert len(rates) == 2
    assert all(100 < r < 520 for r in rates)  # 10 items per ~20 ms step


def test_peak_memory_sees_a_short_lived_allocation():
    with PeakMemory() as memory:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
        del block
    assert memory.increase >= 48 * 2**20
    assert memory.peak >= memory.start + memory.increase - 1
