"""The ``keras_cxr`` logger: INFO messages to stderr unless the user configures logging."""

import logging

_LOGGER_NAME = "keras_cxr"


def get_logger():
    logger = logging.getLogger(_LOGGER_NAME)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[keras_cxr] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
