"""Exact and near-duplicate images: the same X-ray more than once in a dataset.

Public COVID-19 collections copy each other, so one X-ray can reach a
dataset twice: re-encoded, resized, cropped, sometimes under another label
(pediatric pneumonia images relabelled COVID-19; Roberts et al. 2021). A copy
in train and test inflates the test score; a copy under two labels is a label
conflict.

Exact copies share the file's content hash (``FileInfo.sha1``). Near copies
are found in two steps, both on the decoded image (a PNG and a DICOM of one
X-ray compare):

1. candidates: imagehash's difference hash (dHash, 16x16 = 256 bits) of the
   whole image and of two centre crops (:data:`CROP_SCALES`); two images are
   candidates when some pair of their hashes differs in at most
   :data:`CANDIDATE_DISTANCE` bits, so a copy with its border cropped away
   still meets the original's matching crop;
2. verification: the correlation of the two images' fine detail (64x64
   thumbnails minus their blur, without an 8-pixel border, centre crops every
   2% from 100% to 80%, the best-aligned pair), at least :data:`MIN_SIMILARITY`. A hash sees the
   coarse picture, which every chest X-ray shares to some degree; a copy
   also shares the detail: rib edges, lesions, noise.

Measured (``docs/AUDIT.md``): re-encoded, half-size and centre-cropped copies
(up to 16% off each side) score >= 0.95; distinct real X-rays at most 0.48
(1,270 images), distinct synthetic patients at most 0.83 and two exposures of
one synthetic patient at most 0.90 (400 images). A crop taken from one side only
(more than a few per cent) is missed: the crops compared are centred.
"""

import dataclasses

import numpy as np

CROP_SCALES = (1.0, 0.92, 0.84)  # hashed: the whole image and centre crops keeping 92% and 84% of each side
# Compared in detail: centre crops every 2% down to 80%, so some pair of crops lines up within about a pixel
# of the 64-pixel thumbnail, whatever centred crop separates a copy from its original.
DETAIL_SCALES = tuple(round(1.0 - 0.02 * k, 2) for k in range(11))
HASH_SIZE = 16  # dHash of a 17x16 grey thumbnail: 256 bits
# Largest dHash distance (of 256 bits) between some crop of each image for a pair to be verified.
CANDIDATE_DISTANCE = 40
# Smallest fine-detail correlation (-1..1) of a verified near-duplicate.
MIN_SIMILARITY = 0.9
THUMBNAIL = 64
DETAIL_SIGMA = 1.0  # pixels of the thumbnail; the blur subtracted to keep the detail
# Thumbnail pixels left out at each edge: the border holds side markers, text and collimator edges, which two
# different X-rays from one hospital share (a stamped marker alone made two synthetic patients correlate 0.91).
DETAIL_BORDER = 8
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _pil(image):
    from PIL import Image

    pixels = np.round(np.clip(np.asarray(image, np.float32), 0.0, 1.0) * 255).astype(np.uint8)
    return Image.fromarray(pixels)


def centre_crops(image, scales=CROP_SCALES):
    """The decoded 2-D image in [0, 1] as PIL images, centre-cropped to each of ``scales`` (1.0: whole)."""
    picture = _pil(image)
    width, height = picture.size
    crops = []
    for scale in scales:
        dx, dy = (1 - scale) * width / 2, (1 - scale) * height / 2
        crops.append(picture.crop((round(dx), round(dy), round(width - dx), round(height - dy))))
    return crops


def fingerprint(image):
    """The dHash of every centre crop of a decoded image, as hex strings joined by ``:``."""
    import imagehash

    return ":".join(str(imagehash.dhash(crop, hash_size=HASH_SIZE)) for crop in centre_crops(image))


def detail_views(image):
    """(len(DETAIL_SCALES), 48, 48) standardised fine detail of each centre crop (thumbnail minus its blur,
    without its border)."""
    from PIL import Image
    from scipy import ndimage

    views = []
    for crop in centre_crops(image, DETAIL_SCALES):
        thumb = np.asarray(crop.resize((THUMBNAIL, THUMBNAIL), Image.BOX), np.float32)
        detail = (thumb - ndimage.gaussian_filter(thumb, DETAIL_SIGMA))[DETAIL_BORDER:-DETAIL_BORDER,
                                                                         DETAIL_BORDER:-DETAIL_BORDER]
        views.append((detail - detail.mean()) / (detail.std() + 1e-6))
    return np.stack(views)


def detail_similarity(first, second):
    """Largest correlation between any crop's detail of one image and any of the other (detail_views)."""
    flat_a = first.reshape(len(first), -1)
    flat_b = second.reshape(len(second), -1)
    return float((flat_a @ flat_b.T).max() / flat_a.shape[1])


def _codes(fingerprints):
    """(N, crops, words) uint64 array of the hex hashes."""
    words = HASH_SIZE * HASH_SIZE // 64
    codes = np.zeros((len(fingerprints), len(CROP_SCALES), words), np.uint64)
    for i, text in enumerate(fingerprints):
        for c, hexa in enumerate(text.split(":")):
            value = int(hexa, 16)
            codes[i, c] = [(value >> (64 * w)) & (2**64 - 1) for w in range(words)]
    return codes


def hamming_pairs(fingerprints, max_distance=CANDIDATE_DISTANCE):
    """``[(i, j, distance)]`` with ``i < j``: the smallest distance between any crop hashes, when <= max_distance.

    All pairs are compared, in row blocks that keep memory near 64 MB.
    """
    if not len(fingerprints):
        return []
    codes = _codes(fingerprints)
    n, crops, words = codes.shape
    block = max(1, 2**23 // (n * crops * crops * words))
    pairs = []
    for start in range(0, n, block):
        rows = codes[start:start + block]  # (b, crops, words)
        xor = rows[:, None, :, None, :] ^ codes[None, :, None, :, :]  # (b, n, crops, crops, words)
        bits = _POPCOUNT[xor.view(np.uint8)].reshape(*xor.shape[:-1], words * 8).sum(axis=-1, dtype=np.int32)
        distance = bits.min(axis=(2, 3))
        for i, j in zip(*np.nonzero(distance <= max_distance)):
            if start + i < j:
                pairs.append((int(start + i), int(j), int(distance[i, j])))
    return pairs


@dataclasses.dataclass
class DuplicatePair:
    """Two files showing the same X-ray: ``kind`` ``exact`` (same bytes) or ``near`` (hash + detail)."""

    first: dict  # {"path", "label", "split", "source"}
    second: dict
    kind: str
    distance: int  # dHash bits (of 256) between the closest crops
    similarity: float  # fine-detail correlation (1.0 for exact copies)

    @property
    def label_conflict(self):
        return self.first["label"] != self.second["label"]

    @property
    def across_splits(self):
        return self.first["split"] != self.second["split"]

    @property
    def across_sources(self):
        return self.first["source"] != self.second["source"]

    def to_dict(self):
        return {"kind": self.kind, "distance": self.distance, "similarity": round(self.similarity, 4),
                "first": self.first, "second": self.second, "label_conflict": self.label_conflict,
                "across_splits": self.across_splits, "across_sources": self.across_sources}


def find_duplicate_pairs(manifest, infos, max_distance=CANDIDATE_DISTANCE, min_similarity=MIN_SIMILARITY):
    """Every exact and near-duplicate pair among the manifest's readable images (``infos``: scan_files).

    Identical files have identical hashes, so every exact pair is a candidate.
    A file listed on several rows counts once (that is a manifest error, not
    a copy). Candidate images are decoded again for their detail, once each.
    """
    if max_distance < 0:
        raise ValueError(f"max_distance is a number of differing hash bits (>= 0), got {max_distance}")
    described = _readable_entries(manifest, infos)
    views = {}
    pairs = []
    for i, j, distance in hamming_pairs([info.fingerprint for _, info in described], max_distance):
        (first, a), (second, b) = described[i], described[j]
        if a.sha1 == b.sha1:
            pairs.append(DuplicatePair(first, second, "exact", distance, 1.0))
            continue
        similarity = detail_similarity(_views(views, a.path), _views(views, b.path))
        if similarity >= min_similarity:
            pairs.append(DuplicatePair(first, second, "near", distance, similarity))
    return sorted(pairs, key=lambda p: (p.kind != "exact", -p.similarity, p.first["path"], p.second["path"]))


def _readable_entries(manifest, infos):
    entries = {}
    for record in manifest.records:
        path = str(manifest.resolve(record))
        info = infos.get(path)
        if info is not None and info.ok and path not in entries:
            entries[path] = ({"path": path, "label": record.get("label", ""), "split": record.get("split", ""),
                              "source": record.get("source", "")}, info)
    return list(entries.values())


def _views(cache, path):
    from keras_cxr.data.decode import read_image

    if path not in cache:
        cache[path] = detail_views(read_image(path))
    return cache[path]

