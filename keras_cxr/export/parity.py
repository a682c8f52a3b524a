"""Does the export compute what the Keras model computes? Top-1 agreement and probability gaps."""

import numpy as np


def parity(reference_probs, export_probs):
    reference_probs = np.asarray(reference_probs, float)
    export_probs = np.asarray(export_probs, float)
    agreement = float(np.mean(reference_probs.argmax(axis=1) == export_probs.argmax(axis=1)))
    return {"images": int(len(reference_probs)), "top1_agreement": agreement,
            "max_abs_prob_diff": float(np.abs(reference_probs - export_probs).max())}
