"""The five papers keras_cxr reproduces: one key per paper, resolved to its full reference.

Configs (``paper.id``), the model registry (``ModelSpec.paper``), ``keras-cxr reproduce``
and the README's reference list all use these keys, so a reader can always get from a
recipe to the paper, section and table it follows. ``baseline`` marks a network no paper
proposes (a comparison row or a general-purpose model).
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Paper:
    key: str
    cite: str  # how code and docs cite it
    reference: str  # the full reference, once, in the README's reference list
    network: str
    task: str


PAPERS = {
    paper.key: paper
    for paper in (
        Paper(
            "li2023",
            "Li et al. 2023",
            "Li X., Qu Y., Huang K., Song Q. COVID-19 chest image classification based on improved ConvNeXt "
            "(in Chinese). Journal of Chongqing Technology and Business University (Natural Science Edition), "
            "2023, 40(4): 35-40.",
            "ConvNeXt-AT: ConvNeXt-T with CBAM in its blocks, layer scale removed; total-variation denoising",
            "4 classes (COVID-19, bacterial pneumonia, viral pneumonia, normal); COVID-19 Radiography Database",
        ),
        Paper(
            "covid_densenet",
            "Covid-DenseNet",
            "Covid-DenseNet: COVID-19 recognition from chest X-ray images by combining deep learning with "
            "transfer learning (abstract; authors and venue not given in the available text).",
            "DenseNet-121 backbone, attention-weighted multi-scale feature fusion",
            "COVID-19 detection; internal and external test sets, balanced and unbalanced training sets",
        ),
        Paper(
            "zhong2020",
            "Zhong 2020",
            "Zhong Y. Using deep convolutional neural networks to diagnose COVID-19 from chest X-ray images. "
            "arXiv:2007.09695, 2020 (and the author's public training script).",
            "VGG-style multi-branch CNN on 80x80 inputs (63,148,835 parameters)",
            "3 classes (COVID-19, normal, pneumonia); COVID-19-CXR dataset, fixed 740-image test set",
        ),
        Paper(
            "cheng_dpn_se",
            "Cheng et al. (DPN-SENet)",
            "Cheng B., Xue R., Yang H., Zhu L., Xiang W. DPN-SENet: a self-attention mechanism neural network "
            "for detection and diagnosis of COVID-19 from chest x-ray images. Southwest Minzu University "
            "(manuscript, after October 2020).",
            "DPN-92 with squeeze-and-excitation; LIME explanations",
            "4 classes (COVID-19, normal, bacterial, viral pneumonia); Khan et al.'s CoroNet data, 10-network table",
        ),
        Paper(
            "chen_resnet_ct",
            "Chen et al. (improved ResNet50, CT)",
            "Chen X., Zhao Y., Wang Y., Yang B., Yan X. Research on CT image classification algorithm of COVID-19 "
            "based on improved ResNet. College of Information Science and Engineering, Zaozhuang University.",
            "ResNet-50 + feature pyramid (FPN) + non-local attention in the last block of conv3-conv5",
            "3 classes of CT slices (COVID-19, other viral pneumonia, healthy)",
        ),
    )
}

BASELINE = "baseline"


def paper_keys(value):
    """``"li2023"``, ``"li2023,cheng_dpn_se"`` or a list -> a tuple of keys (each checked)."""
    if value is None:
        return ()
    keys = [k.strip() for k in value.split(",")] if isinstance(value, str) else list(value)
    for key in keys:
        if key != BASELINE and key not in PAPERS:
            raise ValueError(f"Unknown paper {key!r}. Valid choices: {sorted(PAPERS)} or {BASELINE!r}")
    return tuple(keys)


def get_paper(key):
    if key not in PAPERS:
        raise ValueError(f"Unknown paper {key!r}. Valid choices: {sorted(PAPERS)}")
    return PAPERS[key]


def citation(value):
    """The readable citation of a key or comma-separated keys (``baseline`` stays as it is)."""
    return "; ".join(PAPERS[k].cite if k in PAPERS else k for k in paper_keys(value))
