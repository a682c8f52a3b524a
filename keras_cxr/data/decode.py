"""Decode any CXR file to a float32 grayscale image in [0, 1].

PNG (8- and 16-bit), JPEG, BMP and TIFF through Pillow; DICOM through pydicom
with the modality LUT (rescale slope/intercept), the VOI LUT or window, and
MONOCHROME1 inverted so that bone is always bright (torchxrayvision #125,
MONAI deploy #282). Colour images are converted to luminance.
"""

import os

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
DICOM_EXTENSIONS = (".dcm", ".dicom")


class ImageDecodeError(ValueError):
    """A file that cannot be read as an image; names the file and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_image_file(path):
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def is_dicom(path):
    """True for a .dcm/.dicom name or a file with the DICM preamble."""
    if str(path).lower().endswith(DICOM_EXTENSIONS):
        return True
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _to_unit_range(array, max_value=None):
    array = np.asarray(array, dtype=np.float64)
    if max_value is not None:
        return np.clip(array / max_value, 0.0, 1.0).astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if high <= low:
        return np.zeros(array.shape, np.float32)
    return ((array - low) / (high - low)).astype(np.float32)


def _luminance(array):
    if array.ndim == 2:
        return array
    if array.shape[-1] in (2, 4):  # drop alpha
        array = array[..., :-1]
    if array.shape[-1] == 1:
        return array[..., 0]
    weights = np.array([0.2989, 0.5870, 0.1140])
    return array[..., :3] @ weights


def read_dicom(path):
    """DICOM -> float32 [0, 1], with modality/VOI LUTs applied and MONOCHROME1 inverted."""
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array
    except Exception as error:  # pydicom raises many types for bad files
        raise ImageDecodeError(path, f"unreadable DICOM ({type(error).__name__}: {error})") from None
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3 and photometric.startswith("MONOCHROME"):
        raise ImageDecodeError(path, f"multi-frame DICOM ({pixels.shape[0]} frames) is not a radiograph")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422"):
            return _to_unit_range(_luminance(pixels.astype(np.float64)), 255.0)
        raise ImageDecodeError(path, f"unsupported DICOM photometric interpretation {photometric}")
    values = apply_modality_lut(pixels, dataset)
    if "VOILUTSequence" in dataset or "WindowCenter" in dataset:
        values = apply_voi_lut(values, dataset)
    image = _to_unit_range(values)
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image


def read_image(path):
    """Any supported file -> 2-D float32 array in [0, 1]; raises ImageDecodeError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageDecodeError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise ImageDecodeError(path, "empty file (0 bytes)")
    if is_dicom(path):
        return read_dicom(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image)
    except UnidentifiedImageError:
        raise ImageDecodeError(path, "not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(path, f"truncated or corrupt image ({error})") from None
    if mode in ("I;16", "I;16B", "I;16L", "I;16N") or array.dtype == np.uint16:
        return _to_unit_range(_luminance(array.astype(np.float64)), 65535.0)
    if mode in ("I", "F") or array.dtype in (np.int32, np.float32):
        return _to_unit_range(_luminance(array.astype(np.float64)))
    if mode == "1":
        return array.astype(np.float32)
    if mode == "P":
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    return _to_unit_range(_luminance(array.astype(np.float64)), 255.0)


def bit_depth(path):
    """Bits per sample as stored (8, 16, ...), for data checks."""
    path = os.fspath(path)
    if is_dicom(path):
        import pydicom

        return int(pydicom.dcmread(path, stop_before_pixels=True).BitsStored)
    from PIL import Image

    with Image.open(path) as image:
        return 16 if image.mode.startswith("I;16") or image.mode == "I" else 8 if image.mode != "1" else 1
