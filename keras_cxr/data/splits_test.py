import pytest

from keras_cxr.data import Manifest, patient_leaks, split_manifest


def _manifest(patients_per_class=30, images=(1, 2, 3)):
    records = []
    for label in ("a", "b", "c"):
        for p in range(patients_per_class):
            for i in range(images[p % len(images)]):
                records.append({"path": f"{label}{p}_{i}.png", "label": label, "patient_id": f"{label}{p}", "source": "t"})
    return Manifest(records, ["a", "b", "c"])


def test_split_is_reproducible_and_patient_grouped():
    manifest = _manifest()
    first = split_manifest(manifest, val=0.2, test=0.1, seed=7)
    again = split_manifest(manifest, val=0.2, test=0.1, seed=7)
    other = split_manifest(manifest, val=0.2, test=0.1, seed=8)
    assert [r["split"] for r in first.records] == [r["split"] for r in again.records]
    assert [r["split"] for r in first.records] != [r["split"] for r in other.records]
    assert patient_leaks(first) == {}


def test_split_is_stratified_by_class():
    manifest = split_manifest(_manifest(), val=0.2, test=0.1, seed=0)
    counts = manifest.counts(by_split=True)
    for label in ("a", "b", "c"):
        total = sum(counts[s][label] for s in counts)
        assert abs(counts["val"][label] - 0.2 * total) <= 3
        assert abs(counts["test"][label] - 0.1 * total) <= 3


def test_seed000_eight_to_two_split_has_no_test():
    manifest = split_manifest(_manifest(), val=0.2, seed=0)
    assert set(manifest.counts(by_split=True)) == {"train", "val"}


def test_split_errors():
    with pytest.raises(ValueError, match="val"):
        split_manifest(_manifest(), val=1.2)
    with pytest.raises(ValueError, match="leave images for training"):
        split_manifest(_manifest(), val=0.6, test=0.5)
    with pytest.raises(ValueError, match="empty"):
        split_manifest(Manifest([], ["a"]), val=0.2)
