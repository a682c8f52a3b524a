"""Model registry: every network is built by name, as in timm.

Each family module decorates its constructors with :func:`register_model`; the
spec stored with a name carries its paper default input shape, the source of its
ImageNet weights (if any) and the input-size rules, so ``build_model`` can
validate a request before building anything.
"""

import dataclasses
import inspect
from typing import Callable, Optional

_REGISTRY = {}

# ``ModelSpec.paper``: keys of keras_cxr.papers.PAPERS (or "baseline"), comma-joined: the paper a
# network reproduces, or whose comparison tables it appears in.


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """What the registry knows about one named network."""

    name: str
    builder: Callable
    default_input_shape: tuple
    paper: str  # e.g. "li2023,cheng_dpn_se,chen_resnet_ct"
    description: str
    min_input_size: int = 32
    input_size_multiple: int = 1
    # Returns a keras.Model whose layer names match this network's, built with
    # the given ``weights`` argument (a path to the ImageNet file in use); None:
    # no ImageNet source. A keras_cxr.models.imagenet.ImagenetSource names its file.
    imagenet_source: Optional[Callable] = None
    # Without an ImageNet source: why (shown by weights="imagenet" and `keras-cxr weights list`).
    imagenet_note: str = ""
    # The feature map class-activation maps explain when the generic rule (last
    # spatial, non-pooling layer) would pick a poor one; see keras_cxr.explain.
    cam_layer: Optional[str] = None

    @property
    def options(self):
        """Keyword options the builder takes besides num_classes and input_shape."""
        params = inspect.signature(self.builder).parameters
        return {
            k: p.default
            for k, p in params.items()
            if k not in ("num_classes", "input_shape") and p.kind is p.KEYWORD_ONLY
        }


def register_model(
    name,
    *,
    default_input_shape=(224, 224, 3),
    paper="baseline",
    description="",
    min_input_size=32,
    input_size_multiple=1,
    imagenet_source=None,
    imagenet_note="",
    cam_layer=None,
):
    """Decorator registering ``builder(num_classes, input_shape, *, **options)``."""

    def decorator(builder):
        from keras_cxr.papers import paper_keys

        paper_keys(paper)  # an unknown paper key fails at import, not when someone reads the spec
        if name in _REGISTRY:
            raise ValueError(f"Model {name!r} is registered twice")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            default_input_shape=tuple(default_input_shape),
            paper=paper,
            description=description or (inspect.getdoc(builder) or "").split("\n")[0],
            min_input_size=min_input_size,
            input_size_multiple=input_size_multiple,
            imagenet_source=imagenet_source,
            imagenet_note=imagenet_note,
            cam_layer=cam_layer,
        )
        return builder

    return decorator


def list_models():
    """Names of every registered network, sorted."""
    return sorted(_REGISTRY)


def get_spec(name):
    """The :class:`ModelSpec` of ``name``; unknown names list the valid ones."""
    if name not in _REGISTRY:
        raise ValueError(f"Unknown model {name!r}. Valid choices: {list_models()}")
    return _REGISTRY[name]


def resolve_input_shape(spec, input_shape):
    """Fill in the paper default and reject shapes the network cannot take."""
    if input_shape is None:
        return spec.default_input_shape
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}") from None
    if len(shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}")
    height, width, channels = shape
    if channels not in (1, 3):
        raise ValueError(f"{spec.name}: input channels must be 1 or 3, got {channels}")
    if min(height, width) < spec.min_input_size:
        raise ValueError(
            f"{spec.name}: input {height}x{width} is too small; "
            f"height and width must be at least {spec.min_input_size}"
        )
    m = spec.input_size_multiple
    if height % m or width % m:
        raise ValueError(f"{spec.name}: input height and width must be multiples of {m}, got {height}x{width}")
    return shape


def check_options(spec, options):
    """Reject options the builder does not take, listing the ones it does, and values of another kind.

    A value is checked against its default: a number for a number, a string for a string, a list of
    numbers for a tuple of numbers (``dropout=(0.5, 0.4)``); None (YAML ``null``: "no attention") and
    anything for a default of None pass, the builder judging them. So a config typo fails here with the
    option's name, not deep inside the builder.
    """
    valid = spec.options
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"{spec.name} does not take option(s) {unknown}. Valid options: "
            + (", ".join(f"{k}={v!r}" for k, v in valid.items()) or "none")
        )
    for name, value in options.items():
        if not _same_kind(value, valid[name]):
            raise ValueError(f"{spec.name} option {name}={value!r}: expected a value like its default "
                             f"{valid[name]!r} ({_kind(valid[name])})")


def _kind(default):
    if isinstance(default, (tuple, list)):
        return "a list of " + ("numbers" if all(_is_number(v) for v in default) else "values")
    if isinstance(default, bool):
        return "true or false"
    return "a number" if _is_number(default) else f"a {type(default).__name__}"


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same_kind(value, default):
    """``value`` can stand where the builder's ``default`` stands (None: anything goes)."""
    if default is None or value is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if _is_number(default):
        return _is_number(value) and (isinstance(default, float) or isinstance(value, int))
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            return False
        return not default or all(_same_kind(v, default[0]) for v in value)
    return isinstance(value, type(default))
