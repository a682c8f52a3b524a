import pytest

from keras_cxr.data import Manifest, labels as L
from keras_cxr.data.labels import align_classes, ancestors, parse_relabel


def _four_class():
    """The built-in synthetic set's classes, one image each (plus a second viral one)."""
    rows = [{"path": f"{i}.png", "label": c, "patient_id": str(i), "source": "t"}
            for i, c in enumerate(list(L.FOUR_CLASSES) + [L.VIRAL])]
    return Manifest(rows, list(L.FOUR_CLASSES), meta={"layout": "synthetic"})


def test_zhong2020_three_classes_merge_the_pneumonias():
    manifest, merged = align_classes(_four_class(), ["COVID-19", "Normal", "Pneumonia"])
    assert merged == {L.BACTERIAL: L.PNEUMONIA, L.VIRAL: L.PNEUMONIA}
    assert manifest.classes == ["COVID-19", "Normal", "Pneumonia"]
    assert manifest.counts() == {"COVID-19": 1, "Normal": 1, "Pneumonia": 3}
    assert manifest.meta["relabel"] == merged and manifest.meta["layout"] == "synthetic"
    assert [r["path"] for r in manifest.records] == [r["path"] for r in _four_class().records]


def test_same_classes_are_kept_or_reordered():
    data = _four_class()
    assert align_classes(data, None) == (data, {})
    assert align_classes(data, list(L.FOUR_CLASSES)) == (data, {})
    reordered, merged = align_classes(data, list(reversed(L.FOUR_CLASSES)))
    assert merged == {} and reordered.classes == list(reversed(L.FOUR_CLASSES)) and "relabel" not in reordered.meta


def test_unmappable_classes_name_both_lists_and_the_override():
    with pytest.raises(ValueError) as error:
        align_classes(_four_class(), ["COVID-19", "Pneumonia"])
    message = str(error.value)
    assert "classes do not match" in message and "['Normal']" in message
    assert str(list(L.FOUR_CLASSES)) in message and "['COVID-19', 'Pneumonia']" in message
    assert "data.classes=null training.class_weight=balanced" in message


def test_wanted_class_without_data_and_class_weight_aware_override():
    wanted = ["COVID-19", "Normal", "Pneumonia", "Lung Opacity"]
    with pytest.raises(ValueError, match=r"no data class maps onto \['Lung Opacity'\]") as error:
        align_classes(_four_class(), wanted, class_weight=None)
    assert str(error.value).endswith("overrides: data.classes=null")
    weights = {"COVID-19": 10.0, "Normal": 3.0, "Pneumonia": 1.0}  # configs/zhong2020/vgg80.yaml's
    with pytest.raises(ValueError, match="data.classes=null training.class_weight=balanced"):
        align_classes(_four_class(), wanted, class_weight=weights)
    with pytest.raises(ValueError, match="Duplicate"):
        align_classes(_four_class(), ["Normal", "Normal"])


def test_vocabulary_helpers():
    assert ancestors(L.VIRAL) == [L.VIRAL, L.PNEUMONIA] and ancestors(L.COVID) == [L.COVID]
    assert parse_relabel(["a = b"]) == {"a": "b"}
    with pytest.raises(ValueError, match="OLD=NEW"):
        parse_relabel(["ab"])


def test_the_zhong2020_recipe_runs_on_the_synthetic_four_classes(tmp_path):
    import yaml

    from keras_cxr.data import generate_dataset

    from keras_cxr.configs import recipe_path

    recipe = yaml.safe_load(recipe_path("zhong2020/vgg80").read_text())
    data = generate_dataset(tmp_path, per_class=1, size=32, seed=0)
    manifest, merged = align_classes(data, recipe["data"]["classes"], recipe["training"]["class_weight"])
    assert set(merged.values()) == {L.PNEUMONIA} and set(recipe["training"]["class_weight"]) == set(manifest.classes)
