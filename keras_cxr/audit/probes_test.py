import json

import numpy as np
import pytest
from PIL import Image

from keras_cxr.audit import occlusion
from keras_cxr.audit.probes import pooled_features, probe_auroc
from keras_cxr.cli import main
from keras_cxr.data import generate_dataset, split_manifest
from keras_cxr.data import labels as L
from keras_cxr.data.image_converter import ImageConverter
from keras_cxr.data.synthetic import plant_marker

SIZE = 64
CLASSES = (L.NORMAL, L.BACTERIAL)


def test_the_probe_finds_a_group_the_features_encode_and_not_one_they_do_not():
    rng = np.random.default_rng(0)
    groups = np.array(["site_a", "site_b", "site_c"] * 40)
    patients = [f"p{i % 60}" for i in range(len(groups))]  # two images per patient, both of one group
    encoded = rng.normal(size=(120, 8)) + 2.0 * (groups[:, None] == np.array(["site_a", "site_b", "site_c", "x"] * 2))
    high = probe_auroc(encoded, groups, "source", patients=patients, resamples=200)
    assert high["auroc"]["value"] > 0.95 and high["auroc"]["lower"] > 0.9 and high["grouped_by_patient"]
    assert high["folds"] == 5 and high["images"] == 120 and high["skipped"] is None
    random = probe_auroc(rng.normal(size=(120, 8)), groups[rng.permutation(120)], "source", resamples=200)
    assert abs(random["auroc"]["value"] - 0.5) < 0.12 and random["auroc"]["lower"] < 0.5 < random["auroc"]["upper"]
    binary = probe_auroc(encoded[:80, :2], groups[:80] == "site_a", "population", resamples=200)
    assert binary["auroc"]["value"] > 0.9 and binary["groups"] == {"False": 53, "True": 27}


def test_the_probe_skips_a_column_with_one_group_or_tiny_groups_and_says_why():
    features = np.zeros((12, 3))
    one = probe_auroc(features, ["synthetic"] * 12, "source")
    assert one["auroc"] is None and "fewer than 2 source groups" in one["skipped"]
    tiny = probe_auroc(features, ["a"] * 9 + ["b"] * 3, "population")
    assert tiny["left_out"] == ["b"] and tiny["skipped"] and tiny["groups"] == {"a": 9, "b": 3}


def test_the_border_band_hides_the_planted_marker_and_the_lung_box_none_of_it():
    marked = plant_marker(np.zeros((SIZE, SIZE), np.float32)) > 0
    assert marked[occlusion.border_mask(SIZE)].sum() == marked.sum() > 0
    assert not (marked & occlusion.box_mask(SIZE)).any()
    views = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4, 1)
    regions = np.zeros((2, 4, 4), bool)
    regions[0, :2] = True
    filled = occlusion.fill(views, regions)
    assert (filled[0, :2] == 4).all() and (filled[0, 2:] == views[0, 2:]).all()
    assert (filled[1] == views[1]).all()


def test_lung_masks_must_exist_for_every_image_and_match_its_size(tmp_path):
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(tmp_path / "masks" / "a.png")
    Image.fromarray(np.full((30, 40), 255, np.uint8)).save(tmp_path / "masks" / "b.png")
    index = occlusion.mask_index(tmp_path / "masks")
    converter = ImageConverter(16)
    assert occlusion.lung_mask_view(index, tmp_path / "a.jpg", (40, 40), converter).all()
    with pytest.raises(ValueError, match=r"no mask for .*c\.png"):
        occlusion.lung_mask_view(index, tmp_path / "c.png", (40, 40), converter)
    with pytest.raises(ValueError, match=r"b\.png is 40x30 px, its image .*b\.png is 40x40"):
        occlusion.lung_mask_view(index, tmp_path / "b.png", (40, 40), converter)


def test_the_verdict_flags_accuracy_that_survives_hiding_the_lungs_and_judges_only_a_skilled_model():
    def accuracies(clean, hidden):
        return {"none": {"value": clean}, "lungs_masked": {"value": hidden}, "only_lungs": {"value": 0.5},
                "border_masked": {"value": 0.5}}

    assert occlusion.verdict(accuracies(1.0, 0.9), 0.5)["flagged"]
    assert not occlusion.verdict(accuracies(1.0, 0.7), 0.5)["flagged"]
    # 0.8 whose interval reaches down to chance may be luck of a small test set.
    unsure = accuracies(1.0, 0.8)
    unsure["lungs_masked"]["lower"] = 0.5
    assert occlusion.verdict(accuracies(1.0, 0.8), 0.5)["flagged"] and not occlusion.verdict(unsure, 0.5)["flagged"]
    barely = occlusion.verdict(accuracies(0.55, 0.55), 0.5)
    assert not barely["judged"] and not barely["flagged"] and "not judged" in barely["reason"]


def _tiny_cnn():
    """Three conv blocks, global max pooling (a consolidation is a local bright patch), softmax."""
    import keras

    inputs = keras.Input((SIZE, SIZE, 1))
    x = inputs
    for filters in (8, 16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="features")(x)
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    outputs = keras.layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny_cnn")


def _trained(folder, shortcut):
    """A split synthetic set, with ``shortcut`` the marker on every pneumonia image and on no normal one, and a
    tiny model trained on its train split, saved with its classes. Sources alternate by patient (not by label)."""
    import keras

    manifest = generate_dataset(folder / "data", per_class=60, size=SIZE, seed=3, classes=CLASSES,
                                shortcut=L.BACTERIAL if shortcut else None, shortcut_share=1.0)
    for record in manifest.records:
        record["source"] = ("site_a", "site_b")[int(record["patient_id"][-4:]) % 2]
    manifest = split_manifest(manifest, val=0.0, test=0.4, seed=0)
    manifest.write(folder / "data" / "split.csv")
    train = [r for r in manifest.records if r["split"] == "train"]
    converter = ImageConverter(SIZE)
    x = np.stack([converter(manifest.resolve(r)) for r in train]).astype(np.float32) / 255.0
    y = np.array([CLASSES.index(r["label"]) for r in train])
    keras.utils.set_random_seed(0)
    model = _tiny_cnn()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    model.save(folder / "model.keras")
    (folder / "classes.json").write_text(json.dumps(list(CLASSES)))
    return folder / "data" / "split.csv", folder / "model.keras"


@pytest.fixture(scope="module")
def audits(tmp_path_factory):
    """``{name: (exit code, printed output, audit.json)}`` of ``audit --model`` for a model trained on the
    marker shortcut and one trained without it (no marker at all)."""
    import contextlib
    import io

    results = {}
    for name, by in (("shortcut", ["source", "marker"]), ("clean", ["source"])):
        folder = tmp_path_factory.mktemp(name)
        data, model = _trained(folder, shortcut=name == "shortcut")
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = main(["audit", "--data", str(data), "--out", str(folder / "audit"), "--model", str(model),
                         "--by", *by])
        results[name] = code, printed.getvalue(), json.loads((folder / "audit" / "audit.json").read_text()), folder
    return results


def test_the_audit_flags_the_model_trained_on_the_marker(audits):
    code, printed, result, folder = audits["shortcut"]
    probes = result["shortcut_probes"]
    accuracy = {c: v["value"] for c, v in probes["occlusion"].items()}
    assert probes["image_set"] == "split 'test' of the data's split column" and probes["images"] == 47
    assert accuracy["none"] > 0.95 and accuracy["lungs_masked"] > 0.95 and probes["verdict"]["flagged"]
    assert accuracy["border_masked"] < 0.7 and accuracy["only_lungs"] < 0.7
    source, marker = probes["linear_probe"]
    assert source["skipped"] is None and marker["auroc"]["lower"] > 0.9  # the marker is in the features
    assert code == 1 and "SHORTCUT: accuracy" in printed
    assert "## Shortcut probes" in (folder / "audit" / "audit.md").read_text()


def test_the_audit_passes_the_model_that_learned_the_lungs(audits):
    code, printed, result, folder = audits["clean"]
    probes = result["shortcut_probes"]
    accuracy = {c: v["value"] for c, v in probes["occlusion"].items()}
    verdict = probes["verdict"]
    assert verdict["judged"] and not verdict["flagged"] and accuracy["none"] > 0.75
    assert accuracy["lungs_masked"] < verdict["survival_threshold"]
    (source,) = probes["linear_probe"]
    assert source["auroc"]["upper"] < 0.9  # sources alternate by patient: nothing for the features to encode
    assert code == 0 and "no shortcut" in printed


def test_lung_masks_from_a_folder_replace_the_box(audits):
    from keras_cxr.audit.shortcuts import shortcut_probes
    from keras_cxr.data.sources import load_any

    _, _, boxed, folder = audits["clean"]
    manifest = load_any(folder / "data" / "split.csv")
    (folder / "lungs").mkdir()
    box = occlusion.box_mask(SIZE).astype(np.uint8) * 255
    for record in manifest.records:
        Image.fromarray(box).save(folder / "lungs" / f"{manifest.resolve(record).stem}.png")
    masked = shortcut_probes(folder / "model.keras", folder / "data" / "split.csv", [], lung_masks=folder / "lungs")
    assert masked["lung_fields"]["source"] == "masks" and masked["linear_probe"] == []
    assert masked["occlusion"] == boxed["shortcut_probes"]["occlusion"]
    import keras

    model = keras.saving.load_model(folder / "model.keras")
    assert pooled_features(model, np.zeros((2, SIZE, SIZE, 1))).shape == (2, 32)  # the "pool" layer's output


def test_the_fill_is_one_grey_for_every_image_whatever_it_hides():
    views = np.zeros((2, 8, 8, 1), np.uint8)
    views[0, 2:6, 2:6] = 200  # an opaque lung
    views[1, 2:6, 2:6] = 20
    regions = np.zeros((2, 8, 8), bool)
    regions[:, 2:6, 2:6] = True
    filled = occlusion.fill(views, regions)
    assert filled[0, 3, 3, 0] == filled[1, 3, 3, 0]
    assert (filled[:, 0, 0] == 0).all()  # outside the region untouched


def test_the_probes_refuse_images_the_model_trained_on(audits, tmp_path):
    from keras_cxr.audit.shortcuts import shortcut_probes
    from keras_cxr.data.sources import load_any

    _, _, _, folder = audits["clean"]
    manifest = load_any(folder / "data" / "split.csv")
    # The same images with another split column: some of the run's training images now sit in "test".
    rows = [dict(r, split="test") for r in manifest.records]
    from keras_cxr.data.manifest import Manifest

    Manifest(rows, manifest.classes, manifest.root, manifest.meta).write(tmp_path / "resplit.csv")
    (folder / "split.csv").write_bytes((folder / "data" / "split.csv").read_bytes())  # the run's own split
    try:
        with pytest.raises(ValueError, match="overlap the run's training"):
            shortcut_probes(folder / "model.keras", tmp_path / "resplit.csv", [])
    finally:
        (folder / "split.csv").unlink()
    no_split = tmp_path / "nosplit.csv"
    Manifest([{k: v for k, v in r.items() if k != "split"} for r in manifest.records], manifest.classes,
             manifest.root, manifest.meta).write(no_split)
    with pytest.raises(ValueError, match="images the model trained on are unknown"):
        shortcut_probes(folder / "model.keras", no_split, [])
