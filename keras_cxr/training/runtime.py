"""Where and how a run executes: seeds, determinism, precision, XLA, distribution."""

import os
import random

import numpy as np
import keras


def set_seeds(seed, deterministic=False):
    """Seed Python, NumPy and Keras; optionally force deterministic TensorFlow ops."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        os.environ["TF_DETERMINISTIC_OPS"] = "1"
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def set_precision(policy):
    """``None`` (float32), ``mixed_float16`` or ``mixed_bfloat16`` for every layer built after."""
    keras.mixed_precision.set_dtype_policy(policy or "float32")


def get_strategy(name):
    """``default`` (one device), ``mirrored`` (all local GPUs) or ``multi_worker`` (TF_CONFIG cluster)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown distribution {name!r}. Valid choices: default, mirrored, multi_worker")


def environment_versions():
    """Library and device versions, for the run directory."""
    import platform

    import tensorflow as tf

    import keras_cxr

    return {
        "keras_cxr": keras_cxr.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()],
        "cpu_count": os.cpu_count(),
    }
