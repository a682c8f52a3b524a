"""Helpers for tests (keras_cxr's own and users'): write images of every supported format."""

import numpy as np


def write_png(path, image, bits=8):
    """Write a float [0, 1] grayscale image as an 8- or 16-bit PNG."""
    from PIL import Image

    if bits == 16:
        Image.fromarray(np.round(np.asarray(image) * 65535).astype(np.uint16)).save(path)
    else:
        Image.fromarray(np.round(np.asarray(image) * 255).astype(np.uint8)).save(path)
    return path


def write_dicom(path, pixels, photometric="MONOCHROME2", slope=1.0, intercept=0.0, window=None, bits=12):
    """Write a minimal single-frame DICOM radiograph with unsigned integer ``pixels``."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    pixels = np.asarray(pixels, dtype=np.uint16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = pixels.tobytes()
    pydicom.dcmwrite(str(path), ds, enforce_file_format=True)
    return path
