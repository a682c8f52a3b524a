"""Images as an edge application prepares them: decode, grayscale, resize, uint8.

NumPy and Pillow only (plus pydicom for DICOM), so the TFLite path stays free
of TensorFlow.
"""

import numpy as np


def resize_to_uint8(image, size):
    """A float [0, 1] grayscale image -> uint8 (size, size, 1), bilinear resize."""
    from PIL import Image

    resized = np.asarray(Image.fromarray(np.asarray(image, np.float32), mode="F").resize((size, size),
                                                                                         Image.BILINEAR))
    return np.clip(np.round(resized * 255.0), 0, 255).astype(np.uint8)[..., None]


def load_uint8(path, size):
    """Any supported file -> uint8 (size, size, 1) grayscale."""
    from keras_cxr.data.decode import read_image

    return resize_to_uint8(read_image(path), size)
