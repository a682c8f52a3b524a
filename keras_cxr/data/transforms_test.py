import numpy as np
import pytest
from skimage.restoration import estimate_sigma

from keras_cxr.data import transforms
from keras_cxr.data.synthetic import synthetic_cxr


@pytest.fixture(scope="module")
def noisy():
    clean, _ = synthetic_cxr("Normal", size=128, seed=3)
    rng = np.random.default_rng(0)
    return clean, np.clip(rng.poisson(clean * 60) / 60, 0, 1).astype(np.float32)


@pytest.mark.parametrize("use_anscombe", [False, True])
def test_tv_denoising_lowers_the_noise(noisy, use_anscombe):
    clean, image = noisy
    denoised = transforms.tv_denoise(image, weight=0.08, anscombe_transform=use_anscombe, peak=60)
    assert estimate_sigma(denoised) < 0.5 * estimate_sigma(image)
    assert np.abs(denoised - clean).mean() < np.abs(image - clean).mean()
    assert denoised.dtype == np.float32 and 0 <= denoised.min() and denoised.max() <= 1


def test_anscombe_inverse_round_trip():
    counts = np.array([0.5, 3.0, 20.0, 200.0])
    np.testing.assert_allclose(transforms.inverse_anscombe(transforms.anscombe(counts)), counts, rtol=0.1, atol=0.3)


def test_clahe_and_resize():
    image = np.tile(np.linspace(0.4, 0.6, 64, dtype=np.float32), (64, 1))
    equalised = transforms.clahe(image)
    assert equalised.shape == image.shape and equalised.max() - equalised.min() > 0.5
    assert transforms.resize(image, 32).shape == (32, 32)
    assert transforms.resize(image, (16, 24)).shape == (16, 24)


def _immerkaer_sigma(image):
    """Immerkaer's (1996) noise estimate, which these tests used before skimage's estimate_sigma."""
    from scipy.ndimage import convolve

    image = np.asarray(image, dtype=np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    response = np.abs(convolve(image, kernel))[1:-1, 1:-1]
    height, width = image.shape
    return float(np.sqrt(np.pi / 2) * response.sum() / (6.0 * (width - 2) * (height - 2)))


def test_skimage_estimate_sigma_measures_the_same_noise(noisy):
    clean, image = noisy
    for sigma in (0.05, 0.1):
        gaussian = clean + np.random.default_rng(1).normal(0.0, sigma, clean.shape)
        assert estimate_sigma(gaussian) == pytest.approx(sigma, rel=0.05)
        assert estimate_sigma(gaussian) == pytest.approx(_immerkaer_sigma(gaussian), rel=0.05)
    # Poisson noise as the denoising tests add it.
    assert estimate_sigma(image) == pytest.approx(_immerkaer_sigma(image), rel=0.15)


def test_resize_keeps_a_constant_and_puts_an_edge_where_it_belongs():
    np.testing.assert_allclose(transforms.resize(np.full((50, 70), 0.37, np.float32), (21, 33)), 0.37, atol=1e-6)
    # Dark top half, bright bottom half, 32 x 48 -> (16, 24): (height, width), so the edge stays horizontal
    # and lands between output rows 7 and 8. Bilinear antialiased (the triangle filter widened to 2 input
    # pixels per output pixel): the two rows beside the edge see 1/8 of the other side (weights 1/8, 3/8,
    # 3/8, 1/8 over 4 input rows); a plain bilinear sample would give 0 and 1 there.
    step = np.zeros((32, 48), np.float32)
    step[16:] = 1.0
    out = transforms.resize(step, (16, 24))
    assert out.shape == (16, 24)
    expected = np.array([0.0] * 7 + [0.125, 0.875] + [1.0] * 7, np.float32)
    np.testing.assert_allclose(out, np.repeat(expected[:, None], 24, axis=1), atol=1e-6)
    # Enlarging (no antialiasing): a vertical edge between columns 3 and 4 of 8 -> 16 columns, linear in between.
    edge = np.zeros((4, 8), np.float32)
    edge[:, 4:] = 1.0
    wide = transforms.resize(edge, (4, 16))
    np.testing.assert_allclose(wide[0], [0] * 7 + [0.25, 0.75] + [1] * 7, atol=1e-6)
    np.testing.assert_allclose(wide, np.repeat(wide[:1], 4, axis=0), atol=1e-6)
