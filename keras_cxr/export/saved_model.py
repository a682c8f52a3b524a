"""SavedModel export with a documented serving signature (TensorFlow Serving ready).

Signature ``serving_default`` (also ``serve``):
    input  ``image``:         uint8   [batch, H, W, 1]  grayscale at the model's input size
    output ``probabilities``: float32 [batch, num_classes], classes in ``labels.json`` order
"""

import tensorflow as tf
import keras


def export_saved_model(edge_model, path):
    height, width = (int(d) for d in edge_model.input_shape[1:3])
    spec = tf.TensorSpec((None, height, width, 1), tf.uint8, name="image")

    def serve(image):
        return {"probabilities": edge_model(image, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(edge_model)
    archive.add_endpoint("serve", serve, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    return path


def load_saved_model_fn(path):
    """A callable uint8 batch -> probabilities (numpy) for a SavedModel directory."""
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]

    def predict(images):
        return signature(image=tf.constant(images, tf.uint8))["probabilities"].numpy()

    return predict
