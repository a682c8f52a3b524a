"""Attention blocks built from a string, as timm's ``create_attn`` does.

Adding a new attention block is one file (the layer) and one line (the entry in
``ATTENTION_LAYERS``). Every network in ``keras_cxr.models`` takes its attention
through :func:`get_attention`, so ``attention="eca"`` works everywhere.
"""

from keras_cxr.layers.cbam import CBAM
from keras_cxr.layers.eca import ECA
from keras_cxr.layers.global_context import GlobalContext
from keras_cxr.layers.non_local import NonLocal
from keras_cxr.layers.squeeze_excite import SqueezeExcite

ATTENTION_LAYERS = {
    "cbam": CBAM,
    "se": SqueezeExcite,
    "eca": ECA,
    "gc": GlobalContext,
    "nl": NonLocal,
}


def list_attention():
    """Names accepted by :func:`get_attention` (``None`` means no attention)."""
    return sorted(ATTENTION_LAYERS)


def validate_attention(kind):
    """Return ``kind`` lower-cased (or None), or raise a ValueError listing the choices."""
    if kind is None or (isinstance(kind, str) and kind.lower() in ("none", "")):
        return None
    if not isinstance(kind, str) or kind.lower() not in ATTENTION_LAYERS:
        raise ValueError(f"Unknown attention {kind!r}. Valid choices: {list_attention() + [None]}")
    return kind.lower()


def get_attention(kind, **kwargs):
    """Build an attention layer by its factory name ``kind``; ``None`` returns ``None``.

    Extra keyword arguments go to the layer's constructor (``name=``,
    ``reduction=`` ...). Arguments a block does not take are dropped only when
    they are the shared tuning knob ``reduction``, which ECA, NL and others
    define differently; anything else is an error.
    """
    key = validate_attention(kind)
    if key is None:
        return None
    cls = ATTENTION_LAYERS[key]
    if "reduction" in kwargs and not getattr(cls, "accepts_reduction", False):
        kwargs.pop("reduction")
    return cls(**kwargs)
