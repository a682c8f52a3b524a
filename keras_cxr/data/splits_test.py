import pytest

from keras_cxr.data import Manifest, patient_leaks, split_manifest
from keras_cxr.data.splits import carve_validation, subsample_train


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


def test_li2023_eight_to_two_split_has_no_test():
    manifest = split_manifest(_manifest(), val=0.2, seed=0)
    assert set(manifest.counts(by_split=True)) == {"train", "val"}


def test_split_errors():
    with pytest.raises(ValueError, match="val"):
        split_manifest(_manifest(), val=1.2)
    with pytest.raises(ValueError, match="leave images for training"):
        split_manifest(_manifest(), val=0.6, test=0.5)
    with pytest.raises(ValueError, match="empty"):
        split_manifest(Manifest([], ["a"]), val=0.2)


def _published(patients_per_class=40, test_patients=8):
    """A train/test manifest as published (Zhong 2020's COVID-19-CXR: no validation split)."""
    records = []
    for label in ("a", "b", "c"):
        for p in range(patients_per_class):
            split = "test" if p < test_patients else "train"
            for i in range((1, 2, 3)[p % 3]):
                records.append({"path": f"{label}{p}_{i}.png", "label": label, "patient_id": f"{label}{p}",
                                "source": "t", "split": split})
    return Manifest(records, ["a", "b", "c"], meta={"layout": "test"})


def _rows(manifest, split):
    return [r for r in manifest.records if r["split"] == split]


def test_carve_validation_takes_a_stratified_share_of_train_patients_only():
    manifest = _published()
    carved = carve_validation(manifest, 0.2, seed=0)
    assert _rows(carved, "test") == _rows(manifest, "test")  # the published test split, row for row
    assert len(carved) == len(manifest) and patient_leaks(carved) == {}
    before, after = manifest.counts(by_split=True), carved.counts(by_split=True)
    for label in ("a", "b", "c"):
        assert abs(after["val"][label] - 0.2 * before["train"][label]) <= 3
        assert after["val"][label] + after["train"][label] == before["train"][label]
    assert carved.meta["carved_validation"] == {"val_fraction": 0.2, "seed": 0, "moved": len(_rows(carved, "val"))}
    assert carved.meta["layout"] == "test" and "carved_validation" not in manifest.meta  # a new manifest


def test_carve_validation_is_reproducible_by_seed():
    manifest = _published()
    first, again, other = (carve_validation(manifest, 0.2, seed=s) for s in (3, 3, 4))
    assert [r["split"] for r in first.records] == [r["split"] for r in again.records]
    assert [r["split"] for r in first.records] != [r["split"] for r in other.records]


def test_carve_validation_never_moves_a_patient_who_is_also_in_test():
    manifest = _published()
    leaked = dict(_rows(manifest, "train")[0])
    leaked.update(split="test", path="leak.png")  # the published split already has this patient in test
    manifest = Manifest(manifest.records + [leaked], manifest.classes)
    carved = carve_validation(manifest, 0.5, seed=0)
    assert {r["split"] for r in carved.records if r["patient_id"] == leaked["patient_id"]} == {"train", "test"}
    assert carved.meta["carved_validation"]["train_patients_also_in_test"] == 1
    assert not {r["patient_id"] for r in _rows(carved, "val")} & {r["patient_id"] for r in _rows(carved, "test")}


def test_carve_validation_errors():
    with pytest.raises(ValueError, match="val_fraction"):
        carve_validation(_published(), 1.0, seed=0)
    with pytest.raises(ValueError, match="needs a manifest with a split column"):
        carve_validation(_manifest(), 0.2, seed=0)
    only_test = Manifest([dict(r, split="test") for r in _published().records], ["a", "b", "c"])
    with pytest.raises(ValueError, match="no train rows"):
        carve_validation(only_test, 0.2, seed=0)


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.8])
def test_subsample_train_keeps_a_stratified_share_by_patient(fraction):
    manifest = carve_validation(_published(), 0.2, seed=0)
    small = subsample_train(manifest, fraction, seed=1)
    assert _rows(small, "test") == _rows(manifest, "test") and _rows(small, "val") == _rows(manifest, "val")
    before, after = manifest.counts(by_split=True), small.counts(by_split=True)
    for label in ("a", "b", "c"):
        assert abs(after["train"][label] - fraction * before["train"][label]) <= 2
    # whole patients: every kept patient keeps all its train rows
    kept = {r["patient_id"] for r in _rows(small, "train")}
    assert _rows(small, "train") == [r for r in _rows(manifest, "train") if r["patient_id"] in kept]
    assert patient_leaks(small) == {}
    info = small.meta["train_fraction"]
    assert info["fraction"] == fraction and info["seed"] == 1
    assert info["kept"] == len(_rows(small, "train"))
    assert info["kept"] + info["dropped"] == len(_rows(manifest, "train"))
    assert info["kept_per_class"] == after["train"]


def test_subsample_train_is_reproducible_nested_and_keeps_every_class():
    manifest = _published()
    first, again, other = (subsample_train(manifest, 0.3, seed=s) for s in (5, 5, 6))
    assert first.records == again.records and first.records != other.records
    patients = {f: {r["patient_id"] for r in _rows(subsample_train(manifest, f, seed=5), "train")}
                for f in (0.1, 0.3, 0.6, 1.0)}
    assert patients[0.1] <= patients[0.3] <= patients[0.6] <= patients[1.0]  # learning curves: nested sets
    assert subsample_train(manifest, 1.0, seed=5).records == manifest.records
    tiny = subsample_train(manifest, 0.001, seed=5)  # far below one patient: each class still keeps one
    assert all(n >= 1 for n in tiny.counts(by_split=True)["train"].values())
    assert len({r["patient_id"] for r in _rows(tiny, "train")}) == 3


def test_subsample_train_errors():
    for fraction in (0.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            subsample_train(_published(), fraction, seed=0)
    with pytest.raises(ValueError, match="needs a manifest with a split column"):
        subsample_train(_manifest(), 0.5, seed=0)


@pytest.mark.parametrize("k", [2, 5])
def test_patient_folds_are_patient_grouped_balanced_and_cover_every_row_once(k):
    from keras_cxr.data.splits import patient_folds

    manifest = _manifest()
    folds = patient_folds(manifest, k, seed=3)
    assert len(folds) == len(manifest.records) and set(folds) == set(range(k))
    fold_of = {}
    for record, fold in zip(manifest.records, folds):
        assert fold_of.setdefault(record["patient_id"], fold) == fold  # one patient, one fold
    for label in manifest.classes:
        sizes = [sum(1 for r, f in zip(manifest.records, folds) if f == i and r["label"] == label) for i in range(k)]
        assert max(sizes) - min(sizes) <= 3, (label, sizes)  # a patient holds at most 3 images
    assert patient_folds(manifest, k, seed=3) == folds and patient_folds(manifest, k, seed=4) != folds


def test_patient_folds_errors():
    from keras_cxr.data.splits import patient_folds

    manifest = _manifest(patients_per_class=1)
    assert sorted(set(patient_folds(manifest, 3))) == [0, 1, 2]  # one patient per fold, none empty
    with pytest.raises(ValueError, match="at least 4 patients; the data has 3"):
        patient_folds(manifest, 4)
    with pytest.raises(ValueError, match="k >= 2"):
        patient_folds(manifest, 1)
