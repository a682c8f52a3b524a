import os

import pytest

from keras_cxr.benchmark.isolation import IsolatedProcessError, run_isolated


def test_the_result_comes_back_from_a_process_of_its_own():
    assert run_isolated("keras_cxr.benchmark.timing:median", {"values": [1.0, 5.0, 2.0]}) == 2.0
    assert run_isolated("os:getpid", {}) != os.getpid()


def test_an_exception_or_a_dead_process_is_an_error_naming_it():
    with pytest.raises(IsolatedProcessError, match="ValueError: No bench model 'nope'"):
        run_isolated("keras_cxr.benchmark.isolation_test:_fails", {"name": "nope"})
    with pytest.raises(IsolatedProcessError, match="the process measuring resnet18 died: exit code -6"):
        run_isolated("keras_cxr.benchmark.isolation_test:_dies", {"name": "resnet18"})


def _fails(name):
    raise ValueError(f"No bench model {name!r}")


def _dies(name):
    os.abort()
