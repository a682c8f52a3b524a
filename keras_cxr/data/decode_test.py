import numpy as np
import pytest
from PIL import Image

from keras_cxr.data.decode import ImageDecodeError, read_image, read_image_bytes
from keras_cxr.data.decode import MIN_IMAGE_SIDE
from keras_cxr.testing import (write_compressed_dicom, write_dicom, write_dicom_without_pixels, write_png,
                               write_png_claiming_size)

GRADIENT = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (48, 1))


def test_png_8_and_16_bit(tmp_path):
    np.testing.assert_allclose(read_image(write_png(tmp_path / "a.png", GRADIENT)), GRADIENT, atol=1 / 255)
    sixteen = read_image(write_png(tmp_path / "b.png", GRADIENT, bits=16))
    np.testing.assert_allclose(sixteen, GRADIENT, atol=1 / 65535)
    assert sixteen.dtype == np.float32 and sixteen.shape == (48, 64)


@pytest.mark.parametrize("ext", [".jpg", ".bmp", ".tif"])
def test_jpeg_bmp_tiff(tmp_path, ext):
    path = tmp_path / f"x{ext}"
    Image.fromarray(np.round(GRADIENT * 255).astype(np.uint8)).save(path)
    np.testing.assert_allclose(read_image(path), GRADIENT, atol=0.03 if ext == ".jpg" else 1 / 255)


def test_rgb_and_rgba_become_luminance(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 1] = 255  # pure green
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgb.png"), 0.587, atol=1e-3)
    rgba = np.dstack([rgb, np.full((8, 8), 7, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_allclose(read_image(tmp_path / "rgba.png"), 0.587, atol=1e-3)


def test_dicom_monochrome2_with_rescale(tmp_path):
    pixels = (GRADIENT * 4095).astype(np.uint16)
    image = read_image(write_dicom(tmp_path / "a.dcm", pixels, slope=2.0, intercept=-100.0))
    np.testing.assert_allclose(image, GRADIENT, atol=1e-3)  # linear rescale, then min-max


def test_dicom_monochrome1_is_inverted(tmp_path):
    pixels = (GRADIENT * 4095).astype(np.uint16)
    image = read_image(write_dicom(tmp_path / "m1.dcm", pixels, photometric="MONOCHROME1"))
    np.testing.assert_allclose(image, 1.0 - GRADIENT, atol=1e-3)


def test_dicom_window_is_applied(tmp_path):
    pixels = (GRADIENT * 4095).astype(np.uint16)
    image = read_image(write_dicom(tmp_path / "w.dcm", pixels, window=(1024, 512)))
    # Values below centre - width/2 clip to black, above centre + width/2 to white.
    assert image[0, 0] == 0.0 and image[0, -1] == 1.0
    assert (image == 0.0).mean() > 0.1 and (image == 1.0).mean() > 0.5


def test_dicom_without_extension_is_detected(tmp_path):
    path = write_dicom(tmp_path / "IM0001", (GRADIENT * 4095).astype(np.uint16))
    assert read_image(path).shape == GRADIENT.shape


def test_bad_files_name_the_file_and_the_problem(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty.png: empty file"):
        read_image(empty)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageDecodeError, match="notes.png: not an image"):
        read_image(text)
    full = write_png(tmp_path / "full.png", GRADIENT)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])
    with pytest.raises(ImageDecodeError, match="truncated.png: truncated or corrupt"):
        read_image(truncated)
    bad_dicom = tmp_path / "bad.dcm"
    bad_dicom.write_bytes(b"\0" * 128 + b"DICM" + b"\1\2\3")
    with pytest.raises(ImageDecodeError, match="bad.dcm: unreadable DICOM"):
        read_image(bad_dicom)
    with pytest.raises(ImageDecodeError, match="file not found"):
        read_image(tmp_path / "missing.png")


def test_dicom_without_pixels_or_decoder_is_named(tmp_path):
    with pytest.raises(ImageDecodeError, match="header.dcm: DICOM without pixel data"):
        read_image(write_dicom_without_pixels(tmp_path / "header.dcm"))
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLSLossless

    if get_decoder(JPEGLSLossless).is_available:
        pytest.skip("a JPEG-LS decoder is installed")
    with pytest.raises(ImageDecodeError, match=r"ls.dcm: DICOM compressed as JPEG-LS .*install one of: .*pylibjpeg"):
        read_image(write_compressed_dicom(tmp_path / "ls.dcm"))


def test_images_over_the_decompression_bomb_limit_are_refused_before_decoding(tmp_path):
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageDecodeError, match="huge.png: image too large"):  # Pillow's own error (over 2x)
        read_image(write_png_claiming_size(tmp_path / "huge.png", 100_000, 100_000))
    side = int((1.5 * limit) ** 0.5)  # Pillow only warns between 1x and 2x: refused here too, unallocated
    with pytest.raises(ImageDecodeError, match=f"big.png: image of {side}x{side} .* exceeds Pillow"):
        read_image(write_png_claiming_size(tmp_path / "big.png", side, side))


def test_images_too_small_to_be_radiographs_are_refused(tmp_path):
    tiny = tmp_path / "pixel.png"
    Image.fromarray(np.full((1, 1), 128, np.uint8)).save(tiny)
    with pytest.raises(ImageDecodeError, match="pixel.png: image of 1x1 pixels is too small"):
        read_image(tiny)
    Image.fromarray(np.full((MIN_IMAGE_SIDE, 40), 128, np.uint8)).save(tmp_path / "strip.png")
    assert read_image(tmp_path / "strip.png").shape == (MIN_IMAGE_SIDE, 40)


# Intensity policy: divide by the stored bit depth, never stretch to the image's own range.
def test_twelve_bit_content_in_a_sixteen_bit_png_keeps_its_grey_levels(tmp_path):
    path = tmp_path / "twelve.png"
    Image.fromarray(np.round(GRADIENT * 4095).astype(np.uint16)).save(path)
    image = read_image(path)
    np.testing.assert_allclose(image, GRADIENT, atol=1 / 4095)
    assert len(np.unique(np.round(image * 255))) == 64  # not 16 levels, as dividing by 65535 gave


def test_deep_images_are_not_stretched_to_their_own_range(tmp_path):
    band = 0.25 + 0.25 * GRADIENT  # occupies [0.25, 0.5] of a 12-bit range
    Image.fromarray(np.round(band * 4095).astype(np.uint16)).save(tmp_path / "band.png")
    np.testing.assert_allclose(read_image(tmp_path / "band.png"), band, atol=1 / 4095)
    dicom = read_image(write_dicom(tmp_path / "band.dcm", np.round(band * 4095).astype(np.uint16)))
    np.testing.assert_allclose(dicom, band, atol=1 / 4095)  # the same pixels, the same values, any format
    Image.fromarray(np.round(band * 4095).astype(np.int32), mode="I").save(tmp_path / "band.tif")
    np.testing.assert_allclose(read_image(tmp_path / "band.tif"), band, atol=1 / 4095)


def test_eight_bit_content_in_sixteen_bits_and_full_sixteen_bits(tmp_path):
    Image.fromarray(np.round(GRADIENT * 255).astype(np.uint16)).save(tmp_path / "eight.png")
    np.testing.assert_allclose(read_image(tmp_path / "eight.png"), GRADIENT, atol=1 / 255)
    np.testing.assert_allclose(read_image(write_png(tmp_path / "full.png", GRADIENT, bits=16)), GRADIENT,
                               atol=1 / 65535)


def test_bytes_decode_as_the_file_does(tmp_path):
    """Beam and object-store readers hold bytes: the same pixels and the same refusals as from the path."""
    rng = np.random.default_rng(1)
    good = [write_png(tmp_path / "a.png", GRADIENT), write_png(tmp_path / "b16.png", GRADIENT, bits=16),
            write_dicom(tmp_path / "c.dcm", (GRADIENT * 4095).astype(np.uint16), photometric="MONOCHROME1"),
            write_dicom(tmp_path / "IM0002", rng.integers(0, 4096, (40, 40)), window=(2048, 1024))]
    Image.fromarray((GRADIENT * 255).astype(np.uint8)).save(tmp_path / "d.jpg", quality=90)
    for path in [*good, tmp_path / "d.jpg"]:
        np.testing.assert_array_equal(read_image_bytes(path.read_bytes(), str(path)), read_image(path))
    full = write_png(tmp_path / "full.png", GRADIENT).read_bytes()
    (tmp_path / "truncated.png").write_bytes(full[: len(full) // 2])
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    bad = [tmp_path / "truncated.png", tmp_path / "notes.png", tmp_path / "empty.png",
           write_dicom_without_pixels(tmp_path / "header.dcm"), write_png(tmp_path / "tiny.png", GRADIENT[:4, :4])]
    for path in bad:
        with pytest.raises(ImageDecodeError) as from_file:
            read_image(path)
        with pytest.raises(ImageDecodeError) as from_bytes:
            read_image_bytes(path.read_bytes(), str(path))
        assert str(from_bytes.value) == str(from_file.value)


def test_images_below_walks_every_depth_sorted_and_skips_other_files(tmp_path):
    from keras_cxr.data.decode import images_below

    for name in ("b/2.png", "a/deep/1.DCM", "a/0.jpeg", "a/notes.txt", "a/.DS_Store", "c.tiff"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in images_below(tmp_path)] == [
        "a/0.jpeg", "a/deep/1.DCM", "b/2.png", "c.tiff"]


def _dicom_files(tmp_path):
    """Names without a DICOM extension: a real DICOM, its preamble alone, near misses, nothing at all."""
    files = {"dicom": write_dicom(tmp_path / "IM0003", (GRADIENT * 4095).astype(np.uint16)),
             "png": tmp_path / "IM0004"}
    Image.fromarray(np.round(GRADIENT * 255).astype(np.uint8)).save(files["png"], format="PNG")
    for name, data in {"preamble": b"\1" * 128 + b"DICM", "no_preamble": b"DICM" + b"\0" * 200,
                       "short": b"\0" * 130, "empty": b"", "dicm_late": b"\0" * 129 + b"DICM"}.items():
        (tmp_path / name).write_bytes(data)
        files[name] = tmp_path / name
    files["folder"] = tmp_path
    files["missing"] = tmp_path / "nothing-here"
    return files


def test_is_dicom_reads_the_preamble_as_before(tmp_path):
    from keras_cxr.data.decode import is_dicom

    def preamble_reference(path):
        """What is_dicom did before it called pydicom.misc.is_dicom."""
        try:
            with open(path, "rb") as handle:
                handle.seek(128)
                return handle.read(4) == b"DICM"
        except OSError:
            return False

    files = _dicom_files(tmp_path)
    assert {name: is_dicom(p) for name, p in files.items()} == {n: preamble_reference(p) for n, p in files.items()}
    assert {name for name, p in files.items() if is_dicom(p)} == {"dicom", "preamble"}
    # A DICOM extension is enough, whatever the bytes (read_image then names what is wrong with the file).
    (tmp_path / "x.DICOM").write_bytes(b"not a DICOM")
    assert is_dicom(tmp_path / "missing.dcm") and is_dicom(tmp_path / "x.DICOM")


def test_a_dicom_declaring_too_many_pixels_is_refused_before_decoding(tmp_path):
    """A small compressed DICOM can declare 20000 x 20000 pixels: Pillow's decompression-bomb limit applies."""
    import pydicom

    path = write_dicom(tmp_path / "bomb.dcm", (GRADIENT * 4095).astype(np.uint16))
    dataset = pydicom.dcmread(path)
    dataset.Rows, dataset.Columns = 20000, 20000
    dataset.save_as(path)
    with pytest.raises(ImageDecodeError, match=r"bomb.dcm.*20000x20000 = 400,000,000 pixels exceeds .*limit"):
        read_image(path)
