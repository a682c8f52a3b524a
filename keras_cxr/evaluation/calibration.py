"""Calibration: does a predicted 0.9 mean right 9 times out of 10?"""

import numpy as np


def reliability_bins(y_true, probs, n_bins=15):
    """Per confidence bin: mean confidence, accuracy and count (top-1 prediction)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high) if low > 0 else (confidence >= low) & (confidence <= high)
        count = int(inside.sum())
        bins.append({
            "lower": float(low),
            "upper": float(high),
            "count": count,
            "confidence": float(confidence[inside].mean()) if count else None,
            "accuracy": float(correct[inside].mean()) if count else None,
        })
    return bins


def expected_calibration_error(y_true, probs, n_bins=15):
    """ECE (Guo et al. 2017): count-weighted mean |accuracy - confidence| over bins."""
    bins = reliability_bins(y_true, probs, n_bins)
    n = len(y_true)
    return float(sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]))
