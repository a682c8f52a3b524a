"""Built-in synthetic chest X-rays with class-specific findings and lesion masks.

For the demo, the tests and the docs, where no real dataset may be downloaded.
Each image has a body outline, two lung fields, ribs, the heart and mediastinum
shadow, a diaphragm, film noise and exposure variation; anatomy varies per
patient. The findings follow their radiological descriptions:

- COVID-19: bilateral, peripheral, lower-zone ground-glass opacities (hazy);
- bacterial pneumonia: one dense lobar consolidation in one lung;
- viral pneumonia: a diffuse bilateral interstitial (reticular) pattern;
- normal: none.

Findings vary in position, size and intensity, so a model must learn them
rather than a fixed pattern. Images carry no text. Every image has a lesion
mask (empty for normal) so explanations can be scored against the finding.
"""

import dataclasses
from pathlib import Path

import numpy as np
from scipy import ndimage

from keras_cxr.data import labels as L
from keras_cxr.data.manifest import Manifest

CLASSES = L.FOUR_CLASSES


@dataclasses.dataclass
class Anatomy:
    """Per-patient geometry in normalised [0, 1] coordinates."""

    lung_centers: tuple
    lung_radii: tuple
    heart_center: tuple
    heart_radii: tuple
    rib_phase: float
    body_width: float
    # Pose and build (the patient's place in the frame, scale, rib spacing): real patients differ in all of
    # them, and without them two synthetic patients look alike down to the ribs (near-duplicates to a detector).
    offset: tuple = (0.0, 0.0)
    scale: float = 1.0
    rib_spacing: float = 0.068

    @classmethod
    def sample(cls, rng):
        def jitter(value, amount):
            return value + rng.uniform(-amount, amount)

        cy = jitter(0.47, 0.02)
        spread = jitter(0.17, 0.015)
        radii = (jitter(0.28, 0.02), jitter(0.12, 0.012))
        return cls(
            lung_centers=((cy, 0.5 - spread), (cy, 0.5 + spread)),
            lung_radii=(radii, (radii[0] * jitter(0.97, 0.02), radii[1] * jitter(1.0, 0.05))),
            heart_center=(jitter(0.63, 0.02), jitter(0.56, 0.02)),
            heart_radii=(jitter(0.1, 0.01), jitter(0.12, 0.012)),
            rib_phase=rng.uniform(0, 1),
            body_width=jitter(0.42, 0.02),
            offset=(rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)),
            scale=rng.uniform(0.9, 1.1),
            rib_spacing=rng.uniform(0.06, 0.076),
        )


def _grid(size, anatomy=None):
    """Pixel coordinates in [0, 1], in the patient's frame: shifted and scaled by ``anatomy``'s pose."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    if anatomy is not None:
        y = (y - 0.5 - anatomy.offset[0]) / anatomy.scale + 0.5
        x = (x - 0.5 - anatomy.offset[1]) / anatomy.scale + 0.5
    return y, x


def _ellipse(y, x, center, radii):
    return ((y - center[0]) / radii[0]) ** 2 + ((x - center[1]) / radii[1]) ** 2 <= 1.0


def _soft(mask, sigma):
    return ndimage.gaussian_filter(mask.astype(np.float32), sigma)


def _anatomy_image(anatomy, size, rng):
    y, x = _grid(size, anatomy)
    body = _soft(_ellipse(y, x, (0.58, 0.5), (0.55, anatomy.body_width)), size * 0.02)
    lungs = [_ellipse(y, x, c, r) for c, r in zip(anatomy.lung_centers, anatomy.lung_radii)]
    lung_mask = lungs[0] | lungs[1]
    image = 0.06 + 0.42 * body
    image -= 0.27 * _soft(lung_mask, size * 0.012)
    mediastinum = _ellipse(y, x, (0.42, 0.5), (0.3, 0.055))
    image += 0.22 * _soft(mediastinum, size * 0.01)
    heart = _ellipse(y, x, anatomy.heart_center, anatomy.heart_radii)
    image += 0.2 * _soft(heart, size * 0.01)
    diaphragm = y > 0.74 + 0.06 * ((x - 0.5) / 0.3) ** 2
    image += 0.12 * _soft(diaphragm & (body > 0.5), size * 0.015)
    # Ribs: gently curved bright bands across the chest, posterior ribs sloping down laterally.
    ribs = np.zeros_like(image)
    for k in range(9):
        centre = 0.2 + (k + anatomy.rib_phase) * anatomy.rib_spacing + 0.09 * np.abs(x - 0.5)
        ribs += np.exp(-(((y - centre) / 0.011) ** 2))
    image += 0.07 * ribs * _soft(body > 0.6, size * 0.02)
    lung_mask &= ~heart
    return image, lung_mask


def _lower_peripheral_points(anatomy, lung, rng, count):
    (cy, cx), (ry, rx) = anatomy.lung_centers[lung], anatomy.lung_radii[lung]
    lateral = -1 if lung == 0 else 1
    points = []
    for _ in range(count):
        py = cy + ry * rng.uniform(0.15, 0.7)
        px = cx + lateral * rx * rng.uniform(0.3, 0.75)
        points.append((py, px))
    return points


def _blob(y, x, center, sigma):
    return np.exp(-(((y - center[0]) ** 2 + (x - center[1]) ** 2) / (2 * sigma**2)))


def _finding(label, anatomy, lung_mask, size, rng):
    """Additive opacity of the finding (zero for normal)."""
    y, x = _grid(size, anatomy)
    lungs_soft = _soft(lung_mask, size * 0.008)
    if label == L.COVID:
        opacity = np.zeros((size, size), np.float32)
        for lung in (0, 1):
            for center in _lower_peripheral_points(anatomy, lung, rng, rng.integers(1, 4)):
                opacity += rng.uniform(0.5, 1.0) * _blob(y, x, center, rng.uniform(0.035, 0.06))
        return rng.uniform(0.12, 0.2) * np.clip(opacity, 0, 1) * lungs_soft
    if label == L.BACTERIAL:
        lung = rng.integers(0, 2)
        (cy, cx), (ry, rx) = anatomy.lung_centers[lung], anatomy.lung_radii[lung]
        center = (cy + ry * rng.uniform(-0.5, 0.55), cx + rx * rng.uniform(-0.4, 0.4))
        radii = (ry * rng.uniform(0.3, 0.45), rx * rng.uniform(0.5, 0.8))
        lobe = _ellipse(y, x, center, radii) & _ellipse(y, x, anatomy.lung_centers[lung], anatomy.lung_radii[lung])
        return rng.uniform(0.25, 0.38) * _soft(lobe, size * 0.006)
    if label == L.VIRAL:
        # Reticular network at a scale that survives downsizing to 64-80 px inputs.
        noise = rng.standard_normal((size, size)).astype(np.float32)
        band = ndimage.gaussian_filter(noise, size * 0.01) - ndimage.gaussian_filter(noise, size * 0.03)
        reticular = np.clip(band / (band.std() + 1e-6) - 0.3, 0, None)
        hilar = sum(_blob(y, x, c, 0.2) for c in anatomy.lung_centers)
        return rng.uniform(0.08, 0.12) * reticular * (0.5 + 0.5 * np.clip(hilar, 0, 1)) * lungs_soft
    return np.zeros((size, size), np.float32)


def _expose(image, rng):
    """Exposure (gamma, gain, offset) and film noise (Poisson at a random dose)."""
    image = np.clip(image, 0, 1) ** rng.uniform(0.8, 1.25)
    image = image * rng.uniform(0.9, 1.1) + rng.uniform(-0.04, 0.04)
    dose = rng.uniform(150, 600)
    image = rng.poisson(np.clip(image, 0, 1) * dose) / dose
    return np.clip(ndimage.gaussian_filter(image, 0.6), 0, 1).astype(np.float32)


def _positioned(anatomy, rng):
    """The patient as placed for this one exposure: no two X-rays of a patient line up exactly."""
    return dataclasses.replace(anatomy, offset=(anatomy.offset[0] + rng.uniform(-0.04, 0.04),
                                                anatomy.offset[1] + rng.uniform(-0.04, 0.04)),
                               scale=anatomy.scale * rng.uniform(0.95, 1.05))


def synthetic_cxr(label, size=256, seed=0, anatomy=None):
    """One synthetic image and its lesion mask: ``(image float32 [0,1], mask bool)``."""
    if label not in CLASSES:
        raise ValueError(f"Unknown synthetic class {label!r}. Valid choices: {list(CLASSES)}")
    rng = np.random.default_rng(seed)
    anatomy = _positioned(anatomy or Anatomy.sample(rng), rng)
    image, lung_mask = _anatomy_image(anatomy, size, rng)
    finding = _finding(label, anatomy, lung_mask, size, rng)
    # The viral pattern is a texture: its lesion is the region it covers, not each thread.
    extent = ndimage.gaussian_filter(finding, size * 0.015) if label == L.VIRAL else finding
    mask = extent > 0.25 * extent.max() if extent.max() > 0 else np.zeros((size, size), bool)
    return _expose(image + finding, rng), mask


def plant_marker(image):
    """``image`` with a bright lettered marker in its top-left corner, outside the body.

    Hospitals stamp side markers and text on X-rays, and a classifier can learn
    the stamp instead of the lungs (DeGrave et al. 2021). ``generate_dataset(
    shortcut=...)`` stamps it on one class far more often than on the others,
    so a model can take the shortcut and the audit can be shown to catch it.
    """
    size = image.shape[0]
    start, end = int(0.03 * size), int(0.15 * size)
    stroke = max(1, (end - start) // 5)
    marked = image.copy()
    marked[start:end, start:end] = 0.95
    marked[start + stroke:end - stroke, start + stroke:start + 2 * stroke] = 0.1  # an "L"
    marked[end - 2 * stroke:end - stroke, start + stroke:end - stroke] = 0.1
    return marked


def class_folder(label):
    return label.replace(" ", "_")


def generate_dataset(out_dir, per_class=50, size=256, seed=0, classes=CLASSES, images_per_patient=(2, 4),
                     shortcut=None, shortcut_share=0.9):
    """Write ``out_dir/images/<class>/``, ``out_dir/masks/<class>/`` and ``out_dir/manifest.csv``.

    Several images per patient (``images_per_patient`` range), each patient's
    anatomy fixed; the same seed gives the same files, byte for byte.
    ``shortcut``: a class whose images carry the corner marker
    (:func:`plant_marker`) with probability ``shortcut_share``, the other
    classes' with ``1 - shortcut_share``; the manifest's ``marker`` column
    says which images carry it (``yes``/``no``).
    """
    from PIL import Image

    out_dir = Path(out_dir).absolute()  # rows name their files from here: a relative out_dir would be joined twice
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    if size < 32:
        raise ValueError(f"size must be at least 32, got {size}")
    if shortcut is not None and shortcut not in classes:
        raise ValueError(f"shortcut {shortcut!r} is not one of the classes {list(classes)}")
    if not 0.0 <= shortcut_share <= 1.0:
        raise ValueError(f"shortcut_share is a probability in [0, 1], got {shortcut_share}")
    records = []
    for class_index, label in enumerate(classes):
        image_dir = out_dir / "images" / class_folder(label)
        mask_dir = out_dir / "masks" / class_folder(label)
        image_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        made, patient = 0, 0
        while made < per_class:
            patient_rng = np.random.default_rng([seed, class_index, patient])
            anatomy = Anatomy.sample(patient_rng)
            count = min(int(patient_rng.integers(images_per_patient[0], images_per_patient[1] + 1)), per_class - made)
            patient_id = f"synth_{class_folder(label).lower()}_{patient:04d}"
            for view in range(count):
                image, mask = synthetic_cxr(label, size, seed=[seed, class_index, patient, view], anatomy=anatomy)
                marked = None
                if shortcut is not None:
                    share = shortcut_share if label == shortcut else 1.0 - shortcut_share
                    marked = np.random.default_rng([seed, class_index, patient, view, 1]).random() < share
                    image = plant_marker(image) if marked else image
                name = f"{patient_id}_{view}.png"
                Image.fromarray(np.round(image * 255).astype(np.uint8)).save(image_dir / name)
                Image.fromarray(mask.astype(np.uint8) * 255).save(mask_dir / name)
                records.append(
                    {
                        # Relative to the dataset folder (the manifest's root), whatever the working directory.
                        "path": str((image_dir / name).relative_to(out_dir)),
                        "label": label,
                        "patient_id": patient_id,
                        "source": "synthetic",
                        "mask_path": str((mask_dir / name).relative_to(out_dir)),
                        **({} if marked is None else {"marker": "yes" if marked else "no"}),
                    }
                )
                made += 1
            patient += 1
    meta = {"layout": "synthetic", "seed": seed, "size": size}
    if shortcut is not None:
        meta.update(shortcut=shortcut, shortcut_share=shortcut_share)
    manifest = Manifest(records, list(classes), out_dir, meta)
    manifest.write(out_dir / "manifest.csv")
    return manifest
