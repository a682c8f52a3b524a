"""Near-duplicate detection: copies found (re-encoded, resized, centre-cropped), other X-rays not."""

import itertools
import shutil

import numpy as np
import pytest
from PIL import Image

from keras_cxr.data import check_dataset, generate_dataset, split_manifest
from keras_cxr.data.decode import read_image
from keras_cxr.data.duplicates import (CANDIDATE_DISTANCE, MIN_SIMILARITY, detail_similarity, detail_views,
                                       fingerprint, hamming_pairs)


def _random_fingerprints(rng, count):
    return [":".join(f"{int.from_bytes(rng.bytes(32), 'big'):064x}" for _ in range(3)) for _ in range(count)]


def _bits(a, b):
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def test_hamming_pairs_equal_a_brute_force_count_over_every_crop_pair():
    rng = np.random.default_rng(0)
    base = _random_fingerprints(rng, 30)
    # A copy whose whole-image hash is another crop's hash of the original, a few bits flipped.
    near = []
    for text in base:
        value = int(text.split(":")[2], 16) ^ sum(1 << int(b) for b in rng.choice(256, 4, replace=False))
        near.append(":".join([f"{value:064x}"] + _random_fingerprints(rng, 1)[0].split(":")[1:]))
    hashes = base + near
    expected = []
    for (i, a), (j, b) in itertools.combinations(enumerate(hashes), 2):
        distance = min(_bits(x, y) for x in a.split(":") for y in b.split(":"))
        if distance <= 8:
            expected.append((i, j, distance))
    assert sorted(hamming_pairs(hashes, 8)) == sorted(expected)
    assert {(i, j) for i, j, _ in expected} >= {(i, i + 30) for i in range(30)}  # every planted pair found
    assert hamming_pairs([], 5) == []


def _copies(source, folder):
    """A re-encoded JPEG, a half-size copy and a copy with 5% cropped off every side, of ``source``."""
    image = Image.open(source)
    width, height = image.size
    image.convert("L").save(folder / "reencoded.jpg", quality=75)
    image.resize((width // 2, height // 2)).save(folder / "smaller.png")
    margin = int(0.05 * width)
    image.crop((margin, margin, width - margin, height - margin)).save(folder / "cropped.png")
    return [folder / "reencoded.jpg", folder / "smaller.png", folder / "cropped.png"]


def _near(a, b):
    """(hash distance, detail similarity) of two image files."""
    first, second = read_image(a), read_image(b)
    distance = hamming_pairs([fingerprint(first), fingerprint(second)], 256)[0][2]
    return distance, detail_similarity(detail_views(first), detail_views(second))


def test_copies_are_near_and_other_images_even_of_one_patient_are_not(tmp_path):
    manifest = generate_dataset(tmp_path / "d", per_class=6, size=128, seed=3)
    paths = [manifest.resolve(r) for r in manifest.records]
    for copy in _copies(paths[0], tmp_path):
        distance, similarity = _near(paths[0], copy)
        assert distance <= CANDIDATE_DISTANCE and similarity >= MIN_SIMILARITY, copy.name
    # Synthetic X-rays share one template, so their hashes are close: the detail must tell them apart.
    for a, b in itertools.combinations(paths, 2):
        distance, similarity = _near(a, b)
        assert distance > CANDIDATE_DISTANCE or similarity < MIN_SIMILARITY, (a.name, b.name)


@pytest.fixture()
def conflicted(tmp_path):
    """A split dataset where a cropped train image reappears in val under another label."""
    manifest = split_manifest(generate_dataset(tmp_path / "d", per_class=4, size=128, seed=0), val=0.5, seed=0)
    train = next(r for r in manifest.records if r["split"] == "train")
    other = next(r for r in manifest.records if r["split"] == "val" and r["label"] != train["label"])
    cropped = _copies(manifest.resolve(train), tmp_path)[2]
    shutil.copy(cropped, manifest.resolve(other))
    manifest.write(tmp_path / "d" / "split.csv")
    return tmp_path / "d" / "split.csv", str(manifest.resolve(train)), str(manifest.resolve(other))


def test_check_reports_a_cropped_copy_across_splits_as_leakage_and_label_conflict(conflicted):
    csv, train, other = conflicted
    report = check_dataset(csv)
    assert [(p.first["path"], p.second["path"]) for p in report.near_duplicates] in ([(train, other)], [(other, train)])
    assert len(report.near_across) == 1 and len(report.label_conflicts) == 1 and not report.ok
    assert report.duplicates_across == []  # not the same bytes: only the perceptual hash finds it
    text = report.to_text()
    assert "ACROSS splits, LABEL CONFLICT" in text and "1 across splits (leakage)" in text
