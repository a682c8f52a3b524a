"""The VGG-style 80x80 multi-branch CNN (Zhong 2020, arXiv 2007.09695).

Four VGG blocks (32, 64, 128, 128 filters; 2, 2, 3, 3 convs of 3x3, ELU, 2x2
max-pool). Branch A globally pools the output of each of the four pools and
concatenates them; branch B flattens block 4's last convolution (10x10x128 at
80x80, before its pool). concat(A, B) -> Dense 4096 ELU -> Dropout 0.5 -> Dense
2048 ELU -> Dropout 0.4 -> softmax. For 3 classes at 80x80x3 this is exactly
63,148,835 parameters, the paper's figure.

The paper's text says global AVERAGE pooling for branch A; the author's public
script uses global MAX pooling. ``branch_pooling`` chooses ("max" by default,
since the script is what produced the reported numbers); the parameter count
is the same either way.
"""

import keras
from keras import layers

from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model

BLOCKS = ((32, 2), (64, 2), (128, 3), (128, 3))
POOLINGS = ("max", "avg")


@register_model(
    "vgg80_multibranch",
    default_input_shape=(80, 80, 3),
    paper="zhong2020",
    description="VGG-style multi-branch CNN for 80x80 CXR (Zhong 2020), 63.1 M parameters",
    min_input_size=16,
    imagenet_note="Zhong 2020 trains it from scratch; an architecture of its own, with no ImageNet weights anywhere",
)
def vgg80_multibranch(num_classes, input_shape, *, branch_pooling="max", dropout=(0.5, 0.4)):
    """Zhong 2020's network; ``branch_pooling`` is "max" (author's script) or "avg" (paper text)."""
    if branch_pooling not in POOLINGS:
        raise ValueError(f"branch_pooling must be one of {POOLINGS}, got {branch_pooling!r}")
    global_pool = layers.GlobalMaxPooling2D if branch_pooling == "max" else layers.GlobalAveragePooling2D
    # Trained from scratch on [0, 1] inputs, as in the author's script.
    inputs, x = image_input(input_shape, normalization="none", rgb=False)
    pooled_branches = []
    flat_branch = None
    for index, (filters, convs) in enumerate(BLOCKS, start=1):
        for conv in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="elu", name=f"block{index}_conv{conv}")(x)
        if index == len(BLOCKS):
            flat_branch = layers.Flatten(name="branch_b_flatten")(x)
        x = layers.MaxPooling2D(2, name=f"block{index}_pool")(x)
        pooled_branches.append(global_pool(name=f"branch_a_pool{index}")(x))
    x = layers.Concatenate(name="branch_concat")(pooled_branches + [flat_branch])
    x = layers.Dense(4096, activation="elu", name="fc1")(x)
    x = layers.Dropout(dropout[0], name="fc1_dropout")(x)
    x = layers.Dense(2048, activation="elu", name="fc2")(x)
    x = layers.Dropout(dropout[1], name="fc2_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name="vgg80_multibranch")
