"""Timed windows and peak memory: the measurement every benchmark here shares.

A "window" runs a step function ``steps`` times and yields items/second. The
median over windows resists the noise of shared machines; running two
contenders' windows alternately in one process exposes both to the same noise,
so their ratio is steadier than either figure.
"""

import os
import threading
import time

import numpy as np


def _window_rate(step, items_per_step, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return items_per_step * steps / (time.perf_counter() - start)


def timed_windows(step, items_per_step, windows=5, steps=1, warmup=1):
    """Items/second of each of ``windows`` timed windows of ``step()`` after ``warmup`` untimed calls.

    ``step`` must block until its work is done (return host values).
    """
    for _ in range(warmup):
        step()
    return [_window_rate(step, items_per_step, steps) for _ in range(windows)]


def interleaved_windows(steps_by_name, items_per_step, windows=5, steps=1, warmup=1):
    """``{name: [items/s per window]}`` with the contenders' windows alternating (A B A B ...)."""
    for step in steps_by_name.values():
        for _ in range(warmup):
            step()
    rates = {name: [] for name in steps_by_name}
    for window in range(windows):
        # Alternate who goes first so neither always follows the other's cache state.
        order = list(steps_by_name.items())
        if window % 2:
            order.reverse()
        for name, step in order:
            rates[name].append(_window_rate(step, items_per_step, steps))
    return rates


def median(values):
    return float(np.median(values))


def _rss_bytes():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB; a process-wide peak


class PeakMemory:
    """Peak resident memory (bytes) of this process while the ``with`` block runs, sampled every 5 ms.

    ``peak`` is the absolute peak, ``increase`` the peak above the resident size at entry.
    """

    def __init__(self, interval=0.005):
        self.interval = interval
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start = self.peak = _rss_bytes()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())
        return False

    @property
    def increase(self):
        return self.peak - self.start
