"""Each paper's protocol as data: its dataset layout, its recipes, where it scores, its tables and numbers.

A :class:`Protocol` names the shipped recipes (``keras_cxr/configs/<paper>/``) of every row of
the paper's comparison tables, the dataset layout its data comes in, the split it scores
(``val`` where the paper reports validation accuracy, ``test`` where it has a test set) and the
numbers the paper reports, cell by cell, so ``keras-cxr reproduce`` can print them beside what
it measures. Numbers are copied from the papers (table and section named on each); where a
printed number contradicts its own table, the cell is None and the note says why.
"""

import dataclasses

COVID = "COVID-19"


@dataclasses.dataclass(frozen=True)
class Row:
    """One trained network of a paper's table: ``recipe`` (a shipped recipe name) + ``overrides``."""

    name: str
    recipe: str
    overrides: tuple = ()


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column: ``metric`` (a key of :func:`keras_cxr.reproduce.metrics.row_metrics`), shown x ``scale``."""

    title: str
    metric: str
    scale: float = 1.0
    digits: int = 2


@dataclasses.dataclass(frozen=True)
class Table:
    title: str
    rows: tuple  # row names
    columns: tuple
    reported: dict  # {row name: {column title: number or None}}


@dataclasses.dataclass(frozen=True)
class Protocol:
    paper: str
    layout: str
    layout_options: dict
    rows: tuple
    score_split: str  # "val" or "test"
    tables: tuple
    notes: tuple = ()
    measure_speed: bool = False

    def row(self, name):
        for row in self.rows:
            if row.name == name:
                return row
        raise ValueError(f"{self.paper} has no row {name!r}. Rows: {[r.name for r in self.rows]}")


ACCURACY_PCT = Column("Accuracy (%)", "accuracy", 100.0, 1)

LI2023 = Protocol(
    paper="li2023",
    layout="covid19_radiography",
    layout_options={"lung_opacity_label": "Bacterial Pneumonia"},
    rows=(
        Row("ConvNeXt-T", "li2023/convnext_tiny"),
        Row("+ NL", "li2023/convnext_tiny_nl"),
        Row("+ ECA", "li2023/convnext_tiny_eca"),
        Row("+ GC", "li2023/convnext_tiny_gc"),
        Row("+ CBAM (ConvNeXt-AT)", "li2023/convnext_at"),
        Row("ResNet-50", "li2023/resnet50"),
        Row("MobileNet", "li2023/mobilenet"),
        Row("EfficientNet-B0", "li2023/efficientnet_b0"),
    ),
    score_split="val",
    tables=(
        Table("Table 2: attention modules in ConvNeXt-T (validation accuracy)",
              ("ConvNeXt-T", "+ NL", "+ ECA", "+ GC", "+ CBAM (ConvNeXt-AT)"), (ACCURACY_PCT,),
              {"ConvNeXt-T": {"Accuracy (%)": 93.7}, "+ NL": {"Accuracy (%)": 94.1},
               "+ ECA": {"Accuracy (%)": 92.8}, "+ GC": {"Accuracy (%)": 94.5},
               "+ CBAM (ConvNeXt-AT)": {"Accuracy (%)": 95.6}}),
        Table("Table 3: ConvNeXt-AT against other networks",
              ("ResNet-50", "MobileNet", "EfficientNet-B0", "ConvNeXt-T", "+ CBAM (ConvNeXt-AT)"),
              (Column("Params (M)", "params", 1e-6, 1), Column("GFLOPs (MACs)", "gmacs", 1.0, 2), ACCURACY_PCT),
              {"ResNet-50": {"Params (M)": 25.6, "GFLOPs (MACs)": 4.1, "Accuracy (%)": 93.6},
               "MobileNet": {"Params (M)": 4.2, "GFLOPs (MACs)": 0.6, "Accuracy (%)": 92.9},
               "EfficientNet-B0": {"Params (M)": 5.3, "GFLOPs (MACs)": 0.39, "Accuracy (%)": 93.5},
               "ConvNeXt-T": {"Params (M)": 28.3, "GFLOPs (MACs)": 4.5, "Accuracy (%)": 93.7},
               "+ CBAM (ConvNeXt-AT)": {"Params (M)": 29.2, "GFLOPs (MACs)": 4.6, "Accuracy (%)": 95.6}}),
    ),
    notes=(
        "Li et al. 2023 report validation accuracy of an 8:2 split (section 3.1): as in the paper, the model is "
        "chosen and scored on the same 20%, which is optimistic; the split here is by patient.",
        "Parameters and MACs are for 4 classes at the trained input size; the paper's figures are at 224 px "
        "(its 28.3 M for ConvNeXt-T does not match the 27.8 M of a 4-class ConvNeXt-T or the 28.6 M of the "
        "1000-class one).",
    ),
)

ZHONG2020 = Protocol(
    paper="zhong2020",
    layout="covid19_cxr",
    layout_options={},
    rows=(Row("VGG-style multi-branch CNN", "zhong2020/vgg80"),),
    score_split="test",
    tables=(
        Table("Section 4: the 740-image test set", ("VGG-style multi-branch CNN",),
              (ACCURACY_PCT, Column("Precision (%)", "keras_micro_precision", 100.0, 2),
               Column("Recall (%)", "keras_micro_recall", 100.0, 2),
               Column("COVID-19 correct", "covid_correct", 1.0, 0),
               Column("COVID-19 test images", "covid_support", 1.0, 0)),
              {"VGG-style multi-branch CNN": {"Accuracy (%)": 87.3, "Precision (%)": 89.67, "Recall (%)": 84.46,
                                              "COVID-19 correct": 98, "COVID-19 test images": 100}}),
        Table("Table 4: mean predicted probability of the true class", ("VGG-style multi-branch CNN",),
              (Column("COVID-19", "true_prob_COVID-19", 1.0, 4), Column("Normal", "true_prob_Normal", 1.0, 4),
               Column("Pneumonia", "true_prob_Pneumonia", 1.0, 4)),
              {"VGG-style multi-branch CNN": {"COVID-19": 0.8445, "Normal": 0.6763, "Pneumonia": 0.7761}}),
    ),
    notes=(
        "Precision and recall are Keras' micro-averaged Precision()/Recall() on one-hot labels at 0.5, "
        "the metrics the author's script logs (not per-class precision/recall).",
        "The model of the last epoch is scored (training.keep: last), as the script reports it.",
        "Confusion matrix of the paper (rows predicted COVID-19/Normal/Pneumonia, columns actual): "
        "98/9/5, 0/197/42, 2/36/351; the measured one is in the row's evaluation (confusion_matrix.png).",
    ),
)

_CHENG_NETWORKS = (("ResNet-18", "resnet18"), ("ResNet-50", "resnet50"), ("ResNet-101", "resnet101"),
                   ("DenseNet-121", "densenet121"), ("DenseNet-201", "densenet201"), ("DPN-68", "dpn68"),
                   ("DPN-92", "dpn92"), ("DPN-131", "dpn131"), ("VGG16", "vgg16"), ("InceptionV3", "inception_v3"))
# Table 1, the column group the text (section 4) assigns to training WITH augmentation: the text quotes
# ResNet-50 with augmentation as 80% / 0.97 / 0.98 / 0.98, which is the group headed "Without Data
# Enhancement" in the printed table, so the printed headers are read as swapped.
_CHENG_TABLE1 = {
    "ResNet-18": (0.78, 0.90, 0.93, 0.92), "ResNet-50": (0.80, 0.97, 0.98, 0.98),
    "ResNet-101": (0.78, 0.98, 0.90, 0.94), "DenseNet-121": (0.84, 0.97, 0.98, 0.98),
    "DenseNet-201": (0.86, 1.00, 1.00, 1.00), "DPN-68": (0.81, 0.93, 0.95, 0.94),
    "DPN-92": (0.80, 0.94, 1.00, 0.97), "DPN-131": (0.83, 0.97, 0.98, 0.98),
    "VGG16": (0.81, 0.93, 0.95, 0.94), "InceptionV3": (0.82, 0.94, 0.97, 0.95),
}
_CHENG_COLUMNS = (Column("Accuracy (4-class)", "accuracy", 1.0, 2),
                  Column("Precision (COVID-19 vs rest)", "covid_precision", 1.0, 2),
                  Column("Recall (COVID-19 vs rest)", "covid_recall", 1.0, 2),
                  Column("F1 (COVID-19 vs rest)", "covid_f1", 1.0, 2))


def _per_class_columns(classes):
    return tuple(Column(f"{c} {m}", f"{m.lower()}_{c}", 1.0, 2) for c in classes for m in ("Precision", "Recall", "F1")) \
        + (Column("Overall accuracy", "accuracy", 1.0, 2),)


_CHENG_CLASSES = ("COVID-19", "Normal", "Bacterial Pneumonia", "Viral Pneumonia")


def _per_class_reported(values, accuracy):
    out = {"Overall accuracy": accuracy}
    for cls, triple in zip(_CHENG_CLASSES, values):
        for metric, value in zip(("Precision", "Recall", "F1"), triple):
            out[f"{cls} {metric}"] = value
    return out


CHENG_DPN_SE = Protocol(
    paper="cheng_dpn_se",
    layout="folders",
    layout_options={},
    rows=tuple(Row(name, f"cheng_dpn_se/{model}") for name, model in _CHENG_NETWORKS)
    + (Row("DPN-SE", "cheng_dpn_se/dpn92_se"),),
    score_split="test",
    tables=(
        Table("Table 1: ten networks, trained with augmentation", tuple(n for n, _ in _CHENG_NETWORKS), _CHENG_COLUMNS,
              {name: dict(zip([c.title for c in _CHENG_COLUMNS], values)) for name, values in _CHENG_TABLE1.items()}),
        Table("Tables 2 and 3: DPN-92 and DPN-SE per class", ("DPN-92", "DPN-SE"), _per_class_columns(_CHENG_CLASSES),
              {"DPN-92": _per_class_reported(((0.98, 0.98, 0.98), (0.92, 0.95, 0.94), (None, 0.87, 0.78),
                                              (0.72, 0.51, 0.60)), 0.82),
               "DPN-SE": _per_class_reported(((0.97, 0.98, 0.98), (0.94, 0.96, 0.95), (None, 0.87, 0.78),
                                              (0.74, 0.88, 0.81)), 0.84)}),
    ),
    notes=(
        "Accuracy is over the four classes; precision, recall and F1 count COVID-19 as positive and the rest as "
        "negative (Table 1's caption).",
        "Table 1's printed column headers are swapped against the text of section 4 (which quotes ResNet-50 "
        "with augmentation as 80% / 0.97 / 0.98 / 0.98): the text is followed.",
        "Bacterial pneumonia precision is printed as 0.1 in Tables 2 and 3, which contradicts recall 0.87 and "
        "F1 0.78 (they imply about 0.71): left blank.",
        "The paper splits 1,119 / 293 images at random; here 20% of patients are the test set and 10% validation.",
    ),
)

CHEN_RESNET_CT = Protocol(
    paper="chen_resnet_ct",
    layout="folders",
    layout_options={},
    rows=(Row("Improved ResNet50", "chen_resnet_ct/resnet50_fpn_attention"),
          Row("Improved ResNet50 (full design)", "chen_resnet_ct/resnet50_fpn_attention", ("model.options.design=full",)),
          Row("ResNet50", "chen_resnet_ct/resnet50")),
    score_split="val",
    measure_speed=True,
    tables=(
        Table("Section 3: accuracy and speed", ("Improved ResNet50", "Improved ResNet50 (full design)", "ResNet50"),
              (ACCURACY_PCT, Column("CPU images/s", "cpu_images_per_second", 1.0, 2),
               Column("Params (M)", "params", 1e-6, 1), Column("GMACs", "gmacs", 1.0, 2)),
              {"Improved ResNet50": {"Accuracy (%)": 90.1, "CPU images/s": 12.75},
               "ResNet50": {"Accuracy (%)": 87.0, "CPU images/s": 7.89}}),
    ),
    notes=(
        "Chen et al. report accuracy on their validation set after 35 epochs: the last epoch is scored on the "
        "validation split (no separate test set, as in the paper).",
        "Images/s: batch 1 on this machine's CPU; the paper's CPU is not named, so compare the ratio to ResNet50 "
        "(paper: 12.75 / 7.89 = 1.62), not the absolute numbers. A network that contains all of ResNet-50 cannot "
        "be faster than it: the light design (the default) costs 4.38 GMACs against ResNet-50's 3.86 (v1).",
        "The full design (256-channel pyramid, full-width attention) is the row without paper numbers.",
    ),
)

COVID_DENSENET = Protocol(
    paper="covid_densenet",
    layout="folders",
    layout_options={},
    rows=(
        Row("Covid-DenseNet (balanced)", "covid_densenet/covid_densenet"),
        Row("Covid-DenseNet (unbalanced)", "covid_densenet/covid_densenet", ("training.class_weight=null",)),
        Row("DenseNet-121 (balanced)", "covid_densenet/densenet121"),
        Row("DenseNet-121 (unbalanced)", "covid_densenet/densenet121", ("training.class_weight=null",)),
    ),
    score_split="test",
    tables=(
        Table("Abstract: internal and external test accuracy",
              ("Covid-DenseNet (balanced)", "Covid-DenseNet (unbalanced)", "DenseNet-121 (balanced)",
               "DenseNet-121 (unbalanced)"),
              (Column("Internal test accuracy (%)", "accuracy", 100.0, 2),
               Column("External test accuracy (%)", "external_accuracy", 100.0, 2)),
              {"Covid-DenseNet (balanced)": {"Internal test accuracy (%)": 96.89, "External test accuracy (%)": 80.0},
               "Covid-DenseNet (unbalanced)": {"External test accuracy (%)": 77.5},
               "DenseNet-121 (balanced)": {"External test accuracy (%)": 76.67},
               "DenseNet-121 (unbalanced)": {"External test accuracy (%)": 73.33}}),
    ),
    notes=(
        "The abstract gives 96.89% on its baseline dataset and 80% / 77.5% on an external test set when trained "
        "on a balanced / unbalanced set, 3.33 and 4.17 points above DenseNet-121 (so 76.67% / 73.33%).",
        "'Balanced' is read as balanced class weights (training.class_weight=balanced); 'unbalanced' as none.",
        "External accuracy needs --external DIR_OR_MANIFEST (another source than the training data).",
    ),
)

PROTOCOLS = {p.paper: p for p in (LI2023, ZHONG2020, CHENG_DPN_SE, CHEN_RESNET_CT, COVID_DENSENET)}


def get_protocol(paper):
    if paper not in PROTOCOLS:
        raise ValueError(f"No reproduction protocol for {paper!r}. Valid choices: {sorted(PROTOCOLS)}")
    return PROTOCOLS[paper]
