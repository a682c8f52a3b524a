"""argparse types shared by subcommands: one wording for one kind of value."""

import argparse


def coverage(text):
    """A target coverage such as 0.95 (strictly between 0 and 1)."""
    value = _float(text)
    if value is None or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a coverage is a fraction between 0 and 1 such as 0.95, got {text!r}")
    return value


def coverage_or_zero(text):
    """:func:`coverage`, or 0 for none."""
    return 0.0 if _float(text) == 0 else coverage(text)


def _float(text):
    try:
        return float(text)
    except ValueError:
        return None
