"""Helpers for tests (keras_cxr's own and users'): write images of every supported format."""

import numpy as np

# Overrides that make any training config a seconds-long CPU run: a 32 px resnet18, no cache, no download, eager
# (tracing the training graph costs more than a few tiny steps).
TINY_TRAINING = ["model.name=resnet18", "model.input_size=32", "training.batch_size=6", "model.weights=null",
                 "data.augment=none", "training.seed=1", "data.cache=null", "training.run_eagerly=true"]


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


def write_png_claiming_size(path, width, height):
    """A tiny PNG whose header claims ``width`` x ``height`` 1-bit pixels (a decompression-bomb probe).

    Nothing of that size is ever allocated: the file is a few dozen bytes and a reader that checks the
    header's size before decoding refuses it.
    """
    import struct
    import zlib
    from pathlib import Path

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                           + chunk(b"IEND", b""))
    return path


def write_dicom_without_pixels(path, **kwargs):
    """A valid DICOM file whose Pixel Data element is missing (a header-only export)."""
    import pydicom

    write_dicom(path, np.zeros((16, 16), np.uint16), **kwargs)
    dataset = pydicom.dcmread(str(path))
    del dataset.PixelData
    dataset.save_as(str(path), enforce_file_format=True)
    return path


def write_compressed_dicom(path, transfer_syntax="1.2.840.10008.1.2.4.80"):
    """A DICOM declaring a compressed transfer syntax (default JPEG-LS Lossless) with encapsulated bytes.

    The frame is not a real codestream: whether a reader can decode the syntax is decided before it reads it.
    """
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID

    write_dicom(path, np.zeros((16, 16), np.uint16))
    dataset = pydicom.dcmread(str(path))
    dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)
    dataset.PixelData = encapsulate([b"\xff\xd8\xff\xf7" + b"\0" * 64 + b"\xff\xd9"])
    dataset["PixelData"].VR = "OB"
    dataset["PixelData"].is_undefined_length = True
    dataset.save_as(str(path), enforce_file_format=True)
    return path


# Each paper's dataset as published, folder -> the synthetic class drawn into it (keras-cxr reproduce tests).
PAPER_LAYOUTS = {
    # COVID-19 Radiography Database: Lung_Opacity is Li et al. 2023's "bacterial pneumonia".
    "li2023": {"COVID/images": "COVID-19", "Normal/images": "Normal", "Viral Pneumonia/images": "Viral Pneumonia",
               "Lung_Opacity/images": "Bacterial Pneumonia"},
    # Zhong 2020's COVID-19-CXR: a published train/test split, pneumonia named as in Kermany's set.
    "zhong2020": {f"{split}/{folder}": label for split in ("train", "test")
                  for folder, label in (("COVID19", "COVID-19"), ("NORMAL", "Normal"),
                                        ("PNEUMONIA", "Bacterial Pneumonia"))},
    "cheng_dpn_se": {c: c for c in ("COVID-19", "Normal", "Bacterial Pneumonia", "Viral Pneumonia")},
    "chen_resnet_ct": {c: c for c in ("COVID-19", "Viral Pneumonia", "Normal")},
    "covid_densenet": {c: c for c in ("COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal")},
}


def write_paper_dataset(paper, root, per_class=8, size=48, seed=0):
    """Synthetic X-rays laid out as ``paper``'s dataset is published (:data:`PAPER_LAYOUTS`); returns ``root``.

    Pneumonia files are named ``person<N>_bacteria_<M>.png`` as in Kermany's set, so patient ids come
    from the names; every other image is its own patient, as in the public folders.
    """
    from pathlib import Path

    from keras_cxr.data.synthetic import synthetic_cxr

    root = Path(root)
    for number, (folder, label) in enumerate(PAPER_LAYOUTS[paper].items()):
        directory = root / folder
        directory.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image, _ = synthetic_cxr(label, size, seed=[seed, number, index])
            name = (f"person{seed}{number}{index // 2}_bacteria_{index}.png" if "PNEUMONIA" in folder
                    else f"s{seed}_{number}_{index}.png")  # another seed: other patients
            write_png(directory / name, image)
    return root


def save_scaled_resnet18(folder, head_scale, classes=("COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal")):
    """A 32 px resnet18 (seed 3) whose classifier weights are multiplied by ``head_scale``, saved with its classes.

    The scale sets how decisive the untrained network is: large (40) for export parity that must not hinge
    on near-ties, small (3) for probabilities that move with any changed pixel.
    """
    import json

    import keras

    from keras_cxr.models import build_model

    keras.utils.set_random_seed(3)
    model = build_model("resnet18", len(classes), input_shape=(32, 32, 3))
    head = model.get_layer("classifier_predictions")
    kernel, bias = head.get_weights()
    head.set_weights([kernel * head_scale, bias])
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(list(classes)))
    return folder


# The smallest input each network accepts that keeps the suite fast (64 px unless listed).
SMALL_INPUT_SIZES = {"inception_v3": 96, "vgg80_multibranch": 32}


def small_shape(name, channels=3):
    """A small valid (height, width, channels) input for registered model ``name``, for quick tests."""
    size = SMALL_INPUT_SIZES.get(name, 64)
    return (size, size, channels)
