"""Explanations: Grad-CAM, Grad-CAM++, Score-CAM, saliency (tf-keras-vis) and LIME.

>>> from keras_cxr.explain import explain_array
>>> heatmap = explain_array(model, xray, method="gradcam")   # (H, W) in [0, 1]

:func:`explain_paths` is the command's engine: overlays, raw maps, galleries
and, given lesion masks, the pointing game.
"""

from keras_cxr.explain.maps import METHODS, Explainer, explain_array
from keras_cxr.explain.pointing import energy_inside, pointing_game_hit, summarize_pointing
from keras_cxr.explain.runner import explain_paths
from keras_cxr.explain.target_layer import find_target_layer, spatial_layers

__all__ = [
    "METHODS",
    "Explainer",
    "energy_inside",
    "explain_array",
    "explain_paths",
    "find_target_layer",
    "pointing_game_hit",
    "spatial_layers",
    "summarize_pointing",
]
