"""Threads and a description of where a benchmark ran (device, backend, precision)."""

import logging
import os
import platform

log = logging.getLogger(__name__)


def configure_threads(threads):
    """Limit TensorFlow (and the torch backend) to ``threads`` CPU threads; returns the count in effect.

    One inter-op thread: with several, TensorFlow runs ops side by side, each
    wanting ``threads`` intra-op threads, and oversubscribes the cores (docs/BENCHMARKS.md
    measures ConvNeXt-AT training 0.87x -> 0.97x timm's speed from this alone).
    TensorFlow fixes its thread pools when it runs its first op; after that the
    request is logged and the current setting reported. ``None`` changes nothing.
    """
    import keras
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            current = tf.config.threading.get_intra_op_parallelism_threads() or "default"
            log.warning("TensorFlow is already running; cannot set %s threads, it keeps %s.", threads, current)
            return current
        if keras.backend.backend() == "torch":
            import torch

            torch.set_num_threads(threads)
        return threads
    return tf.config.threading.get_intra_op_parallelism_threads() or None


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerators():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [f"{d.platform.upper()}: {getattr(d, 'device_kind', d)}" for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        return [f"GPU: {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    import tensorflow as tf

    found = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        found.append(f"GPU: {details.get('device_name', device.name)}")
    return found


def describe_environment(batch_size=None, threads=None, precision=None):
    """A dict naming the device, threads, backend, precision and library versions."""
    import keras

    accelerators = _accelerators()
    described = {
        "device": accelerators[0] if accelerators else f"CPU: {_cpu_name()}",
        "cpu_cores": os.cpu_count(),
        "threads": threads or "default",
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "precision": precision or keras.mixed_precision.dtype_policy().name,
    }
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        described["tensorflow"] = tf.__version__
    if batch_size is not None:
        described["batch_size"] = batch_size
    return described


def format_environment(described):
    """One line: ``device | backend | threads | batch | precision``."""
    parts = [described["device"], f"backend {described['backend']} (keras {described['keras']})"]
    if "tensorflow" in described:
        parts[-1] = parts[-1][:-1] + f", tensorflow {described['tensorflow']})"
    parts.append(f"{described['threads']} threads of {described['cpu_cores']} cores")
    if "batch_size" in described:
        parts.append(f"batch {described['batch_size']}")
    parts.append(f"precision {described['precision']}")
    return " | ".join(parts)
