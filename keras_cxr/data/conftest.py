"""Fixtures of the data package's tests."""

import logging

import pytest


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def warnings(self):
        """The formatted WARNING (and worse) messages, in order."""
        return [r.getMessage() for r in self.records if r.levelno >= logging.WARNING]

    def messages(self):
        return [r.getMessage() for r in self.records]


@pytest.fixture
def cxr_log():
    """Everything logged to the ``keras_cxr`` logger during the test (whether it propagates or not)."""
    from keras_cxr.utils.logging import get_logger

    logger = get_logger()
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
