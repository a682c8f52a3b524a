import pytest

from keras_cxr.data import Manifest
from keras_cxr.evaluation.evaluator import align_classes, read_class_map


@pytest.mark.parametrize("text", [
    "data_label,model_class\ncovid,COVID-19\nhealthy , Normal\n",
    "from,to\ncovid,COVID-19\nhealthy,Normal\n",
    "# external labels -> the model's\ncovid,COVID-19\n\nhealthy,Normal\n",
])
def test_csv_class_map_with_or_without_a_header(tmp_path, text):
    path = tmp_path / "map.csv"
    path.write_text(text)
    assert read_class_map(path) == {"covid": "COVID-19", "healthy": "Normal"}


def test_csv_class_map_errors_and_use(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("covid,COVID-19\nhealthy\n")
    with pytest.raises(ValueError, match="two columns"):
        read_class_map(path)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_class_map(tmp_path / "missing.csv")
    path.write_text("data_label,model_class\ncovid,COVID-19\nhealthy,Normal\n")
    records = [{"path": f"{i}.png", "label": label, "patient_id": str(i), "source": "x"}
               for i, label in enumerate(["covid", "healthy", "covid"])]
    manifest = Manifest(records, ["covid", "healthy"])
    with pytest.raises(ValueError, match="--class-map"):
        align_classes(manifest, ["COVID-19", "Normal"])
    aligned = align_classes(manifest, ["COVID-19", "Normal"], read_class_map(path))
    assert aligned.classes == ["COVID-19", "Normal"]
    assert [r["label"] for r in aligned.records] == ["COVID-19", "Normal", "COVID-19"]
