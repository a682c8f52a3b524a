"""Errors keras_cxr raises on purpose: the command line prints their message, not a traceback."""


class KerasCxrError(Exception):
    """Base class of failures whose message already says what is wrong and what to do."""


class TrainingError(KerasCxrError):
    """A run that stopped without a usable result (non-finite loss, no finite monitored value)."""
