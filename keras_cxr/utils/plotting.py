"""matplotlib for files, never for a screen: every figure keras_cxr draws goes through here."""

from pathlib import Path


def pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend (servers, CI, headless notebooks' workers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path, dpi=110):
    """Lay out, save as PNG (tight bounding box) and close ``figure``; returns the path."""
    path = Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=dpi, bbox_inches="tight")
    pyplot().close(figure)
    return path
