import pytest

from keras_cxr.crossval.folds import CLASS_NOT_TRAINED, PATIENT_IN_HELD_OUT, fold_names, plan_folds
from keras_cxr.data import Manifest

CLASSES = ["a", "b", "c"]


def _manifest(sources=("s1", "s2", "s3"), patients=6, only=None):
    """Each source has ``patients`` patients per class with 1-3 images; ``only``: {class: the one source with it}."""
    records = []
    for source in sources:
        for label in CLASSES:
            if only and label in only and only[label] != source:
                continue
            for p in range(patients):
                for i in range(1 + p % 3):
                    records.append({"path": f"{source}/{label}{p}_{i}.png", "label": label,
                                    "patient_id": f"{source}-{label}{p}", "source": source})
    return Manifest(records, CLASSES)


def _paths(manifest, split=None):
    return {r["path"] for r in manifest.records if split is None or r["split"] == split}


def test_leave_one_source_out_tests_each_source_whole_and_trains_on_the_rest():
    manifest = _manifest()
    folds = plan_folds(manifest, by="source", val_fraction=0.25, seed=1)
    assert [f.held_out for f in folds] == ["s1", "s2", "s3"] and [f.name for f in folds] == ["s1", "s2", "s3"]
    for fold in folds:
        source = {r["path"] for r in manifest.records if r["source"] == fold.held_out}
        assert _paths(fold.manifest, "test") == source
        train, val = _paths(fold.manifest, "train"), _paths(fold.manifest, "val")
        assert train and val and not (train | val) & source
        assert train | val | source == _paths(manifest) and not fold.left_out
        patients = {s: {r["patient_id"] for r in fold.manifest.records if r["split"] == s} for s in ("train", "val")}
        assert not patients["train"] & patients["val"]
        assert fold.held_out_counts == {c: 12 for c in CLASSES} and fold.manifest.classes == CLASSES
    assert plan_folds(manifest, by="source", val_fraction=0.25, seed=1)[0].manifest == folds[0].manifest


def test_patient_folds_are_disjoint_and_test_every_image_once():
    manifest = _manifest(sources=("only",))
    folds = plan_folds(manifest, folds=4, seed=0)
    assert [f.name for f in folds] == ["1", "2", "3", "4"]
    tested = [p for fold in folds for p in _paths(fold.manifest, "test")]
    assert sorted(tested) == sorted(_paths(manifest))  # every image tested exactly once
    test_patients = [{r["patient_id"] for r in f.manifest.records if r["split"] == "test"} for f in folds]
    for i, fold in enumerate(folds):
        trained = {r["patient_id"] for r in fold.manifest.records if r["split"] != "test"}
        assert not trained & test_patients[i]
        assert all(not test_patients[i] & test_patients[j] for j in range(len(folds)) if j != i)


def test_a_class_only_the_held_out_source_has_is_left_out_with_a_note():
    manifest = _manifest(only={"c": "s3"})
    fold = {f.held_out: f for f in plan_folds(manifest, by="source")}["s3"]
    assert fold.manifest.classes == ["a", "b"]
    missing = [r for r, why in fold.left_out if why == CLASS_NOT_TRAINED]
    assert {r["label"] for r in missing} == {"c"} and len(missing) == 12 and fold.held_out_counts["c"] == 12
    assert len(_paths(fold.manifest, "test")) + len(missing) == 36  # nothing dropped silently
    assert fold.notes == ["class c absent from training in this fold: 12 held-out image(s) not scored"]
    other = {f.held_out: f for f in plan_folds(manifest, by="source")}["s1"]
    assert other.notes == ["no held-out images of c: macro-F1 and macro AUC cover the classes present"]


def test_a_patient_in_two_sources_is_kept_out_of_training_when_either_is_held_out():
    manifest = _manifest()
    moved = next(r for r in manifest.records if r["source"] == "s2")
    moved["patient_id"] = "s1-a0"  # the same patient imaged at s1 and s2
    fold = plan_folds(manifest, by="source")[0]
    assert [(r["path"], why) for r, why in fold.left_out] == [(moved["path"], PATIENT_IN_HELD_OUT)]
    assert moved["path"] not in _paths(fold.manifest)
    assert fold.notes == ["1 image(s) left out of training: their patients are in the held-out group"]


def test_the_datas_own_split_is_kept_as_data_split():
    manifest = _manifest()
    for i, record in enumerate(manifest.records):
        record["split"] = "test" if i % 5 == 0 else "train"
    fold = plan_folds(manifest, by="source")[0]
    assert {r["split"] for r in fold.manifest.records} == {"train", "val", "test"}
    assert {r["data_split"] for r in fold.manifest.records} == {"train", "test"}


@pytest.mark.parametrize("kwargs, message", [
    ({"by": "site"}, "no column 'site'"),
    ({"by": "source", "folds": 3}, "not both"),
    ({}, "not both and not neither"),
    ({"folds": 200}, "200 folds need at least 200 patients; the data has 54"),
    ({"folds": 1}, "k >= 2"),
    ({"by": "source", "val_fraction": 0.0}, "must be in \\(0, 1\\)"),
])
def test_bad_requests_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_folds(_manifest(), **kwargs)


def test_a_column_with_one_value_or_blanks_is_refused():
    with pytest.raises(ValueError, match="single value \\('s1'\\): nothing to hold out"):
        plan_folds(_manifest(sources=("s1",)), by="source")
    manifest = _manifest()
    manifest.records[3]["source"] = ""
    with pytest.raises(ValueError, match="1 row\\(s\\) have no 'source' value"):
        plan_folds(manifest, by="source")


def test_fold_names_are_safe_and_distinct():
    assert fold_names(["NIH ChestX-ray14", "nih/chestx-ray14", "..", "a"]) == {
        "NIH ChestX-ray14": "NIH_ChestX-ray14", "nih/chestx-ray14": "nih_chestx-ray14_2", "..": "blank", "a": "a"}
