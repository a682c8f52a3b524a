"""Which feature map a class-activation map explains.

The rule: the last layer (in graph order) whose output is a spatial feature map
larger than 1x1 and which is not a pooling layer. It picks ConvNeXt's last
block, DPN's final BN-ELU, DenseNet's ``relu``, VGG16's ``block5_conv3``, and
for the VGG-style 80x80 net ``block4_conv3``, the map both of its head branches
read. A registered model may name a better one (``ModelSpec.cam_layer``): the
FPN model's head pools four pyramid levels, and only ``conv5_block3_out``
reaches all of them. Working on the flat functional graph avoids the
penultimate-layer search that breaks on nested models (tf-keras-vis #63).
"""

import keras

_POOLING = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.ZeroPadding2D,
)


def spatial_layers(model):
    """Names of layers whose output is a 4-D feature map (candidates for CAM)."""
    names = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            names.append(layer.name)
    return names


def find_target_layer(model, name=None):
    """The layer name to explain: ``name`` if valid, else the model's hint, else the rule above."""
    candidates = spatial_layers(model)
    if name is not None:
        if name not in candidates:
            raise ValueError(f"Layer {name!r} is not a spatial layer of {model.name}. Candidates: {candidates}")
        return name
    from keras_cxr.models.registry import get_spec

    try:
        spec = get_spec(model.name)
    except ValueError:  # a model not built by the registry: the generic rule applies
        spec = None
    if spec is not None and spec.cam_layer and spec.cam_layer in candidates:
        return spec.cam_layer
    for layer_name in reversed(candidates):
        layer = model.get_layer(layer_name)
        height, width = layer.output.shape[1:3]
        if isinstance(layer, _POOLING) or (height is not None and height * width <= 1):
            continue
        return layer_name
    raise ValueError(f"{model.name} has no spatial feature map larger than 1x1 to explain")
