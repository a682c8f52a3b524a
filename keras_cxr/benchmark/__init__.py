"""Speed measurements: model throughput, input pipeline, TFLite latency.

Figures are medians of repeated timed windows after warm-up, with the device,
thread count, batch size, precision and backend stated beside them.
Used by ``keras-cxr bench`` and the scripts in ``benchmarks/``.
"""

from keras_cxr.benchmark.environment import configure_threads, describe_environment
from keras_cxr.benchmark.timing import PeakMemory, interleaved_windows, timed_windows

__all__ = ["PeakMemory", "configure_threads", "describe_environment", "interleaved_windows", "timed_windows"]
