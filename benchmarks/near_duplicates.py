"""Do keras_cxr's near-duplicate thresholds separate copies from other X-rays? Measured, not assumed.

For a set of images (synthetic patients, and a real manifest if given) this
prints, for distinct images (other patients where patient ids are known) and
for copies made here (JPEG at quality 75, half size, centre crops of 5-16% per
side, and crops from the top only): the difference-hash distance and the
fine-detail similarity of ``keras_cxr.data.duplicates``. A threshold works
when every copy is within both and no distinct pair is.

    python benchmarks/near_duplicates.py --real /data/real_cxr_dev/manifest.csv --every 10
"""

import argparse
import io
import tempfile
from collections import defaultdict

import numpy as np
from PIL import Image

COPIES = {"jpeg75": None, "half": None, "centre5": 0.95, "centre10": 0.90, "centre16": 0.84, "top5": 0.05,
          "top10": 0.10}


def make_copies(image):
    """The copies of a decoded [0, 1] image, decoded back to [0, 1]."""
    picture = Image.fromarray(np.round(image * 255).astype(np.uint8))
    width, height = picture.size
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=75)
    buffer.seek(0)
    made = {"jpeg75": Image.open(buffer).convert("L"), "half": picture.resize((width // 2, height // 2))}
    for name, value in COPIES.items():
        if name.startswith("centre"):
            dx, dy = (1 - value) * width / 2, (1 - value) * height / 2
            made[name] = picture.crop((round(dx), round(dy), round(width - dx), round(height - dy)))
        elif name.startswith("top"):
            made[name] = picture.crop((0, int(value * height), width, height))
    return {name: np.asarray(copy, np.float32) / 255.0 for name, copy in made.items()}


def measure(name, images, patients, copies_of=25):
    from keras_cxr.data.duplicates import (CANDIDATE_DISTANCE, MIN_SIMILARITY, detail_similarity, detail_views,
                                           fingerprint, hamming_pairs)

    hashes = [fingerprint(image) for image in images]
    views = [detail_views(image) for image in images]
    distinct = [(i, j, d) for i, j, d in hamming_pairs(hashes, 256) if patients[i] != patients[j]]
    distances = np.array([d for _, _, d in distinct])
    candidates = [(i, j) for i, j, d in distinct if d <= CANDIDATE_DISTANCE]
    similarities = [detail_similarity(views[i], views[j]) for i, j in candidates]
    flagged = sum(s >= MIN_SIMILARITY for s in similarities)
    print(f"{name}: {len(images)} images, {len(distinct)} pairs of distinct images: hash distance min "
          f"{distances.min()}, 1st percentile {np.percentile(distances, 1):.0f}; {len(candidates)} within "
          f"{CANDIDATE_DISTANCE}, their detail similarity max {max(similarities, default=float('nan')):.3f}; "
          f"called near-duplicates: {flagged}")
    found = defaultdict(list)
    for i, image in enumerate(images[:copies_of]):
        for copy_name, copy in make_copies(image).items():
            distance = hamming_pairs([fingerprint(copy), hashes[i]], 256)[0][2]
            similarity = detail_similarity(detail_views(copy), views[i])
            found[copy_name].append((distance, similarity,
                                     distance <= CANDIDATE_DISTANCE and similarity >= MIN_SIMILARITY))
    for copy_name, rows in found.items():
        print(f"  copy {copy_name:<9} hash distance max {max(r[0] for r in rows):>3}, detail similarity min "
              f"{min(r[1] for r in rows):.3f}: found {sum(r[2] for r in rows)} of {len(rows)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", help="a manifest of real X-rays (with patient_id where known)")
    parser.add_argument("--every", type=int, default=10, help="take every n-th image of --real")
    parser.add_argument("--per-class", type=int, default=12, help="synthetic images per class")
    args = parser.parse_args(argv)
    from keras_cxr.data import generate_dataset, read_manifest
    from keras_cxr.data.decode import read_image

    with tempfile.TemporaryDirectory() as folder:
        manifest = generate_dataset(folder, per_class=args.per_class, size=256, seed=3)
        measure("synthetic (256 px)", [read_image(manifest.resolve(r)) for r in manifest.records],
                [r["patient_id"] for r in manifest.records])
    if args.real:
        manifest = read_manifest(args.real)
        records = manifest.records[::args.every]
        measure(f"real ({args.real}, every {args.every}th)", [read_image(manifest.resolve(r)) for r in records],
                [r.get("patient_id") or manifest.resolve(r) for r in records])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
