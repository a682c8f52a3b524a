"""Each model measured in a fresh process.

Measured one after another in one process, the models' memory piles up: the
allocators keep what a model freed, so the benchmark over every model grew
to 24 GB and was killed at DPN-131 on a 24 GB machine, and each model's
peak memory included its predecessors'. A fresh process (``spawn``, not
``fork``: a forked TensorFlow or PyTorch is not safe) per model starts every
measurement from the same state; a model that runs out of memory becomes an
error row instead of ending the run.
"""

import importlib
import multiprocessing
import queue as queue_module


class IsolatedProcessError(RuntimeError):
    """The measuring process died (killed for memory, a crash) or raised."""


def _child(results, target, kwargs, threads, precision, import_first):
    try:
        for module in import_first:  # e.g. torch before TensorFlow: torchvision crashes after TensorFlow
            importlib.import_module(module)
        if threads:
            from keras_cxr.benchmark.environment import configure_threads

            configure_threads(threads)
        if precision:
            from keras_cxr.training.runtime import set_precision

            set_precision(precision)
        module_name, function_name = target.rsplit(":", 1)
        results.put(("ok", getattr(importlib.import_module(module_name), function_name)(**kwargs)))
    except BaseException as error:  # reported to the parent, which decides
        results.put(("error", f"{type(error).__name__}: {error}"))


def run_isolated(target, kwargs, threads=None, precision=None, import_first=()):
    """``target(**kwargs)`` (``"package.module:function"``) in a fresh process; returns its picklable result.

    ``threads``/``precision`` are set in the child before anything runs
    (TensorFlow's thread pools and Keras's dtype policy are per process).
    Raises :class:`IsolatedProcessError` when the child raises or dies.
    """
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_child, args=(results, target, kwargs, threads, precision, tuple(import_first)))
    process.start()
    outcome = None
    while outcome is None:
        try:
            outcome = results.get(timeout=1.0)
        except queue_module.Empty:
            if not process.is_alive():
                try:
                    outcome = results.get(timeout=1.0)  # the result may land just as the child exits
                except queue_module.Empty:
                    break
    process.join()
    if outcome is None:
        code = process.exitcode
        reason = "killed (out of memory?)" if code == -9 else f"exit code {code}"
        raise IsolatedProcessError(f"the process measuring {kwargs.get('name', target)} died: {reason}")
    status, value = outcome
    if status == "error":
        raise IsolatedProcessError(value)
    return value
