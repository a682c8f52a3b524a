"""Image transforms on 2-D float arrays in [0, 1], each doing one thing (MONAI style).

The denoising follows Li et al. 2023 (ConvNeXt-AT), section 2.2, and its
reference (Thanh et al. 2020): X-ray noise is Poisson; the Anscombe transform
makes it approximately Gaussian with unit variance, total-variation (Chambolle)
denoising removes it, and the exact unbiased inverse (Makitalo & Foi 2011) maps
back.
"""

import numpy as np


def anscombe(counts):
    """Variance-stabilising transform for Poisson counts: 2 sqrt(x + 3/8)."""
    return 2.0 * np.sqrt(np.maximum(counts, 0.0) + 3.0 / 8.0)


def inverse_anscombe(values):
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi 2011)."""
    y = np.maximum(values, 1e-6)
    s = np.sqrt(1.5)
    return np.maximum(0.25 * y**2 + 0.25 * s / y - 11.0 / 8.0 / y**2 + 0.625 * s / y**3 - 0.125, 0.0)


def tv_denoise(image, weight=0.05, anscombe_transform=False, peak=255.0):
    """Total-variation denoising (scikit-image, Chambolle).

    With ``anscombe_transform`` the image is read as Poisson counts at
    ``peak`` photons for white, stabilised, denoised and inverted.
    """
    from skimage.restoration import denoise_tv_chambolle

    image = np.asarray(image, dtype=np.float32)
    if not anscombe_transform:
        return np.clip(denoise_tv_chambolle(image, weight=weight), 0.0, 1.0).astype(np.float32)
    scale = float(anscombe(peak))
    stabilised = anscombe(image * peak) / scale
    denoised = denoise_tv_chambolle(stabilised, weight=weight) * scale
    return np.clip(inverse_anscombe(denoised) / peak, 0.0, 1.0).astype(np.float32)


def clahe(image, clip_limit=0.01, kernel_size=None):
    """Contrast-limited adaptive histogram equalisation (scikit-image)."""
    from skimage.exposure import equalize_adapthist

    return equalize_adapthist(np.asarray(image, dtype=np.float32), clip_limit=clip_limit,
                              kernel_size=kernel_size).astype(np.float32)


def resize(image, size):
    """Resize to ``size`` (int for square, or (height, width)): the one resize of keras_cxr.

    Pillow's bilinear filter on the float image, antialiased when shrinking (its
    support widens with the scale), as :class:`~keras_cxr.data.image_converter.ImageConverter`
    resizes for training, evaluation and export.
    """
    from PIL import Image

    height, width = (size, size) if isinstance(size, int) else tuple(size)
    image = np.asarray(image, dtype=np.float32)
    if image.shape == (height, width):
        return image
    return np.asarray(Image.fromarray(image, mode="F").resize((width, height), Image.BILINEAR))


def to_uint8(image):
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
