"""Classification heads: pooled features -> dropout -> softmax over the classes."""

from keras import layers


def classifier(features, num_classes, dropout=0.0, name="classifier"):
    """Softmax classifier over a feature vector (already pooled)."""
    x = features
    if dropout:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=f"{name}_predictions")(x)


def pooled_classifier(feature_map, num_classes, dropout=0.0, pooling="avg", name="classifier"):
    """Global pooling of a feature map, then :func:`classifier`."""
    pool = layers.GlobalAveragePooling2D if pooling == "avg" else layers.GlobalMaxPooling2D
    x = pool(name=f"{name}_pool")(feature_map)
    return classifier(x, num_classes, dropout=dropout, name=name)
