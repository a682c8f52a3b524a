"""Images as an edge application prepares them: decode, grayscale, resize, uint8.

NumPy and Pillow only (plus pydicom for DICOM), so the TFLite path stays free
of TensorFlow.
"""

import numpy as np


def load_uint8(path, size):
    """Any supported file -> uint8 (size, size, 1) grayscale."""
    from PIL import Image

    from keras_cxr.data.decode import read_image

    image = read_image(path)
    resized = np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR))
    return np.clip(np.round(resized * 255.0), 0, 255).astype(np.uint8)[..., None]
