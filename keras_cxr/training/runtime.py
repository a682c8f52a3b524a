"""Where and how a run executes: seeds, determinism, precision, XLA, distribution.

The TensorFlow backend spreads a run with ``tf.distribute`` (``mirrored``); JAX with
``keras.distribution.DataParallel`` (``data_parallel``, one host or several). Both take
``training.batch_size`` as the global batch: each of N devices computes batch_size / N
images per step, so the same config gives the same optimisation on any device count.
"""

import contextlib
import functools
import os
import random

import numpy as np
import keras

from keras_cxr.training.config import ConfigError

# Read by keras.distribution.initialize() on each host of a multi-host JAX run.
HOST_VARIABLES = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                  "KERAS_DISTRIBUTION_PROCESS_ID")
TF_STRATEGIES = ("mirrored",)


def set_seeds(seed, deterministic=False):
    """Seed Python, NumPy and Keras; optionally force deterministic TensorFlow ops.

    TensorFlow's op determinism also covers the tf.data pipeline, which feeds every backend.
    """
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


@contextlib.contextmanager
def precision(policy):
    """:func:`set_precision` for the block only: the process's policy is restored after, so a notebook that
    trained in mixed precision does not build its next model in it without asking."""
    before = keras.mixed_precision.dtype_policy()
    set_precision(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(before)


class KerasDistribution:
    """The JAX/PyTorch counterpart of a ``tf.distribute`` strategy: a scope and a replica count.

    ``scope()`` makes ``distribution`` (a ``keras.distribution.Distribution`` or None: one device)
    current; the trainer builds the model and runs ``fit`` inside it.
    """

    def __init__(self, distribution=None):
        self.distribution = distribution
        self.num_replicas_in_sync = 1 if distribution is None else int(distribution.device_mesh.devices.size)

    def scope(self):
        return contextlib.nullcontext() if self.distribution is None else self.distribution.scope()


def get_strategy(name):
    """``default`` (one device), ``mirrored`` (TensorFlow: all local GPUs), ``data_parallel`` (JAX: all devices
    of every host); call it before anything runs on a device (a multi-host JAX run connects the hosts here)."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tf_strategy(name)
    if name in TF_STRATEGIES:
        raise ConfigError(f"training.distribution={name} is a tf.distribute strategy and needs the TensorFlow "
                          f"backend (KERAS_BACKEND is {backend}); use training.distribution=data_parallel with JAX")
    if name == "default":
        return KerasDistribution()
    if backend != "jax":
        raise ConfigError(f"training.distribution=data_parallel needs KERAS_BACKEND=jax (this is {backend}; "
                          "keras.distribution supports JAX only)")
    return _data_parallel()


def fit_scope(strategy):
    """``model.fit`` runs inside a keras.distribution (which places each batch), outside a tf.distribute scope
    (Keras takes the strategy from the model's variables)."""
    return strategy.scope() if isinstance(strategy, KerasDistribution) else contextlib.nullcontext()


def check_batch_size(strategy, batch_size):
    """JAX splits each global batch into equal shares, one per device."""
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, KerasDistribution) and batch_size % replicas:
        raise ConfigError(f"training.batch_size={batch_size} (the global batch) must be a multiple of the "
                          f"{replicas} devices of training.distribution=data_parallel")


def _tf_strategy(name):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        return _mirrored(tuple(d.name for d in gpus or tf.config.list_logical_devices("CPU")))
    if name == "data_parallel":
        raise ConfigError("training.distribution=data_parallel uses keras.distribution, which Keras supports on the "
                          "JAX backend only: run with KERAS_BACKEND=jax, or use training.distribution=mirrored "
                          "for the GPUs of one machine under TensorFlow")
    raise ValueError(f"Unknown distribution {name!r}. Valid choices: default, mirrored, data_parallel")


@functools.lru_cache(maxsize=None)
def _mirrored(devices):
    """One MirroredStrategy per process: a second one's all-reduces collide with the first's (TensorFlow 2.21,
    Keras 3.15: "Shape mismatch in the collective instance"), so a second run in one process (crossval folds,
    a notebook) failed; tests/test_train_cli.py trains twice."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=list(devices))


def _data_parallel():
    """``keras.distribution.DataParallel`` over every device of every host (hosts joined first when
    ``KERAS_DISTRIBUTION_*`` are set); the variables are replicated and each batch is split on its first axis."""
    import jax

    if any(os.environ.get(v) for v in HOST_VARIABLES) and not jax.distributed.is_initialized():
        missing = [v for v in HOST_VARIABLES[:2] if not os.environ.get(v)]
        if missing:
            raise ConfigError(f"A multi-host run needs {', '.join(missing)} set on every host (with "
                              "KERAS_DISTRIBUTION_PROCESS_ID: 0 on the coordinator, 1, 2, ... on the others)")
        keras.distribution.initialize()
    distribution = keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    return KerasDistribution(distribution)


def environment_versions():
    """Library and device versions, for the run directory."""
    import platform

    import tensorflow as tf

    import keras_cxr

    versions = {
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
    if keras.backend.backend() == "jax":
        import jax

        versions.update(jax=jax.__version__, devices=[str(d) for d in jax.devices()], processes=jax.process_count())
    return versions
