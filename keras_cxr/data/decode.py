"""Decode any CXR file to a float32 grayscale image in [0, 1], with one intensity policy.

PNG (8- and 16-bit), JPEG, BMP and TIFF through Pillow; DICOM through pydicom
with the modality LUT (rescale slope/intercept), the VOI LUT or window, and
MONOCHROME1 inverted so that bone is always bright (torchxrayvision #125,
MONAI deploy #282). Colour images are converted to luminance (ITU-R 601).

Intensity policy, the same for every format and every code path ("stored bit
depth"): an image is divided by the largest value its stored bit depth can
hold, never stretched to its own minimum and maximum, so a pixel value means
the same brightness in every image of a scanner.

- 8-bit images: ``/ 255``.
- Deeper integer images (16-bit PNG/TIFF, Pillow modes ``I;16`` and ``I``):
  a detector's 10-, 12- or 14-bit values are usually stored in 16 bits, and
  dividing by 65535 would leave a 12-bit image 16 grey levels after uint8
  quantisation. The stored depth is taken as the smallest of 8, 10, 12, 14
  and 16 bits that holds the image's maximum: ``/ (2**bits - 1)`` (PNG and
  TIFF do not record a detector's depth; Pillow ignores ``sBIT``).
- DICOM: ``BitsStored`` (and ``PixelRepresentation``) give the stored range;
  the modality rescale and the VOI window or LUT map it as the standard says
  (PS3.3 C.11), and the result is divided by that output range, exactly as
  pydicom's ``apply_voi_lut`` defines it.
- Floating-point images already in [0, 1] are kept; others are min-max
  stretched (no bit depth to refer to).

What is refused (:class:`ImageDecodeError`, naming the file and the reason)
besides unreadable bytes: a DICOM without pixel data, or compressed with a
transfer syntax no installed pydicom plugin decodes (the plugins to install
are named); an image larger than Pillow's decompression-bomb limit
(``PIL.Image.MAX_IMAGE_PIXELS``, checked from the header before any pixel is
decoded: raise the limit for a genuine giant image); and an image with a side
under :data:`MIN_IMAGE_SIDE` pixels, which decodes but holds no radiograph (a
1x1 tracking pixel or a broken export would otherwise be stretched into a
flat grey image and scored or trained on as if it were an X-ray).
"""

import os
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom")
DICOM_EXTENSIONS = (".dcm", ".dicom")
# Depths detectors store; a deeper integer image is read as the smallest that holds its maximum.
STORED_BIT_DEPTHS = (8, 10, 12, 14, 16)
# Smaller images are refused: no anatomy survives at this size (28 px MedMNIST-style thumbnails still pass).
MIN_IMAGE_SIDE = 8


class ImageDecodeError(ValueError):
    """A file that cannot be read as an image; names the file and the reason."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def is_image_file(path):
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def images_below(folder):
    """Every image file below ``folder`` (any depth), sorted: one walk for adapters, predict, explain and masks."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_image_file(p))


def is_dicom(path):
    """True for a .dcm/.dicom name or a file with the DICM preamble (``pydicom.misc.is_dicom``)."""
    if str(path).lower().endswith(DICOM_EXTENSIONS):
        return True
    from pydicom.misc import is_dicom as has_dicom_preamble

    try:
        return has_dicom_preamble(path)
    except OSError:  # a folder, a missing or unreadable file
        return False


def _scale(array, low, high):
    """Linear map of [low, high] to [0, 1], clipped, as float32."""
    if high <= low:
        return np.zeros(np.shape(array), np.float32)
    return np.clip((np.asarray(array, np.float32) - np.float32(low)) / np.float32(high - low), 0.0, 1.0)


def stored_bit_depth(max_value):
    """The smallest of :data:`STORED_BIT_DEPTHS` whose range holds ``max_value``."""
    for bits in STORED_BIT_DEPTHS:
        if max_value <= 2**bits - 1:
            return bits
    return STORED_BIT_DEPTHS[-1]


def _luminance(array):
    if array.ndim == 2:
        return array
    if array.shape[-1] in (2, 4):  # drop alpha
        array = array[..., :-1]
    if array.shape[-1] == 1:
        return array[..., 0]
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return array[..., :3].astype(np.float32) @ weights


def _dicom_output_range(dataset, voi_lut_sequence):
    """The range of values the modality and VOI transforms can produce (PS3.3 C.11), as pydicom defines it."""
    if voi_lut_sequence:
        descriptor = dataset.VOILUTSequence[0].LUTDescriptor
        return 0.0, float(2 ** int(descriptor[2]) - 1)
    bits = int(getattr(dataset, "BitsStored", 16))
    if dataset.get("ModalityLUTSequence"):
        return 0.0, float(2 ** int(dataset.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    if int(getattr(dataset, "PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = float(dataset.get("RescaleSlope", 1.0)), float(dataset.get("RescaleIntercept", 0.0))
    low, high = sorted((low * slope + intercept, high * slope + intercept))
    return low, high


def _dicom_pixels(source, path):
    """(dataset, pixel array) of a DICOM file or file object; a missing pixel element or decoder is named."""
    import pydicom

    try:
        dataset = pydicom.dcmread(source)
    except Exception as error:  # pydicom raises many types for bad files
        raise ImageDecodeError(path, f"unreadable DICOM ({type(error).__name__}: {_one_line(error)})") from None
    if len(dataset) == 0:
        raise ImageDecodeError(path, "unreadable DICOM (no data elements: truncated or not a DICOM file)")
    if not any(key in dataset for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        kind = getattr(dataset, "SOPClassUID", None)
        kind = f" ({getattr(kind, 'name', kind)})" if kind else ""
        raise ImageDecodeError(path, f"DICOM without pixel data{kind}: a header-only file, report or "
                                     "presentation state, not an image")
    _check_dicom_size(dataset, path)
    syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is not None and syntax.is_compressed:
        try:
            from pydicom.pixels import get_decoder

            decoder = get_decoder(syntax)
        except Exception:  # an unknown syntax: let pixel_array say what it can
            decoder = None
        if decoder is not None and not decoder.is_available:
            missing = "; ".join(decoder.missing_dependencies) or "a plugin for it"
            raise ImageDecodeError(path, f"DICOM compressed as {syntax.name} ({syntax}), which no installed "
                                         f"decoder reads: install one of: {missing}")
    try:
        return dataset, dataset.pixel_array
    except Exception as error:
        raise ImageDecodeError(path, f"unreadable DICOM pixel data ({type(error).__name__}: "
                                     f"{_one_line(error)})") from None


def _check_dicom_size(dataset, path):
    """The same decompression-bomb limit as Pillow's, on the pixels the header declares, before decoding them.

    A compressed DICOM of a few hundred kB can declare 16000 x 16000 pixels; decoding it would take GBs.
    """
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    try:
        rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return  # a malformed header: pixel_array reports it
    if limit and rows * columns * max(frames, 1) > limit:
        raise _too_large(path, columns, rows * max(frames, 1), limit)


def _one_line(error):
    """An exception's message on one line (reports and CSV cells hold one line per file)."""
    return " ".join(str(error).split())


def read_dicom(path, source=None):
    """DICOM -> float32 [0, 1]: modality LUT, VOI LUT or window, stored-range scaling, MONOCHROME1 inverted.

    ``source``: a file object to read instead of ``path`` (which then only names the file in errors).
    """
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    dataset, pixels = _dicom_pixels(path if source is None else source, path)
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3 and photometric.startswith("MONOCHROME"):
        raise ImageDecodeError(path, f"multi-frame DICOM ({pixels.shape[0]} frames) is not a radiograph")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422"):
            return _scale(_luminance(pixels), 0.0, 255.0)
        raise ImageDecodeError(path, f"unsupported DICOM photometric interpretation {photometric}")
    try:
        values = apply_modality_lut(pixels, dataset)
        voi_lut_sequence = "VOILUTSequence" in dataset
        if voi_lut_sequence or "WindowCenter" in dataset:
            values = apply_voi_lut(values, dataset)
        image = _scale(values, *_dicom_output_range(dataset, voi_lut_sequence))
    except Exception as error:  # malformed LUTs, windows or rescale values
        raise ImageDecodeError(path, f"DICOM with unusable intensity tags ({type(error).__name__}: "
                                     f"{_one_line(error)})") from None
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image


def _too_large(path, width, height, limit):
    return ImageDecodeError(path, f"image of {width}x{height} = {width * height:,} pixels exceeds Pillow's "
                                  f"decompression-bomb limit of {limit:,} (PIL.Image.MAX_IMAGE_PIXELS; raise it "
                                  "if this is a genuine image)")


def _open_pillow(path, source=None):
    """(array, mode) as Pillow decodes the file (or the file object ``source``), with Pillow's errors named.

    The decompression-bomb limit is checked on the size the header claims, before any pixel is
    decoded; Pillow itself only warns between one and two times the limit, this refuses both.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path if source is None else source)
        with image:
            width, height = image.size
            if limit and width * height > limit:
                raise _too_large(path, width, height, limit)
            image.load()
            mode = image.mode
            if mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
                image = image.convert("RGBA" if "A" in mode or "transparency" in image.info else "RGB")
            return np.asarray(image), mode
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        raise ImageDecodeError(path, "not an image (unrecognised format)") from None
    except Image.DecompressionBombError as error:  # over twice the limit: Pillow refuses in Image.open
        raise ImageDecodeError(path, f"image too large ({_one_line(error)}); raise PIL.Image.MAX_IMAGE_PIXELS "
                                     "if this is a genuine image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageDecodeError(path, f"truncated or corrupt image ({_one_line(error)})") from None
    except MemoryError:
        raise ImageDecodeError(path, "image too large to decode in the memory available") from None
    except Exception as error:  # a decoder plugin failing in its own way is still one bad file
        raise ImageDecodeError(path, f"corrupt image ({type(error).__name__}: {_one_line(error)})") from None


def _check_size(path, image):
    height, width = image.shape[:2]
    if min(height, width) < MIN_IMAGE_SIDE:
        raise ImageDecodeError(path, f"image of {width}x{height} pixels is too small to be a radiograph "
                                     f"(each side needs at least {MIN_IMAGE_SIDE} pixels)")
    return image


def read_image(path):
    """Any supported file -> 2-D float32 array in [0, 1] (the module's intensity policy); raises ImageDecodeError."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ImageDecodeError(path, "file not found")
    if os.path.getsize(path) == 0:
        raise ImageDecodeError(path, "empty file (0 bytes)")
    if is_dicom(path):
        return _check_size(path, read_dicom(path))
    return _check_size(path, _read_pillow(path))


def _read_pillow(path, source=None):
    array, mode = _open_pillow(path, source)
    if mode == "1":
        return array.astype(np.float32)
    gray = _luminance(array)
    if array.dtype == np.uint8:
        return _scale(gray, 0.0, 255.0)
    if np.issubdtype(array.dtype, np.integer):
        low = float(gray.min())
        if low < 0:  # signed data has no stored depth to refer to
            return _scale(gray, low, float(gray.max()))
        return _scale(gray, 0.0, float(2 ** stored_bit_depth(float(gray.max())) - 1))
    gray = np.nan_to_num(np.asarray(gray, np.float32))
    if gray.min() >= 0.0 and gray.max() <= 1.0:
        return gray
    return _scale(gray, float(gray.min()), float(gray.max()))


def read_image_bytes(data, name):
    """A file's bytes -> what :func:`read_image` gives for the file ``name``; raises ImageDecodeError.

    For readers that hold bytes rather than a local path (Apache Beam's file matches, object stores):
    the same decoders and intensity policy, ``name`` only naming the file in errors.
    """
    import io

    name = str(name)
    if not data:
        raise ImageDecodeError(name, "empty file (0 bytes)")
    if name.lower().endswith(DICOM_EXTENSIONS) or bytes(data[128:132]) == b"DICM":
        return _check_size(name, read_dicom(name, io.BytesIO(data)))
    return _check_size(name, _read_pillow(name, io.BytesIO(data)))


def bit_depth(path):
    """Bits per sample as stored (8, 12, 16, ...), for data checks."""
    path = os.fspath(path)
    if is_dicom(path):
        import pydicom

        return int(pydicom.dcmread(path, stop_before_pixels=True).BitsStored)
    from PIL import Image

    with Image.open(path) as image:
        if image.mode == "1":
            return 1
        if image.mode.startswith("I"):
            return stored_bit_depth(float(np.asarray(image).max()))
        return 8
