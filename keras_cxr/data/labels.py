"""One label vocabulary for every dataset adapter (the torchxrayvision idea).

Public CXR datasets spell the same finding differently ("COVID", "covid-19",
"positive"; "NORMAL", "No Finding"). Adapters map their spelling to these
canonical names, so manifests from different sources agree and can be merged
or used as external test sets without a class silently shifting.
"""

COVID = "COVID-19"
NORMAL = "Normal"
BACTERIAL = "Bacterial Pneumonia"
VIRAL = "Viral Pneumonia"
PNEUMONIA = "Pneumonia"
LUNG_OPACITY = "Lung Opacity"

# The four classes of seeds 000 and 003, in the order the papers list them.
FOUR_CLASSES = (COVID, BACTERIAL, VIRAL, NORMAL)
# The three classes of seed 002.
THREE_CLASSES = (COVID, NORMAL, PNEUMONIA)


def parse_relabel(items):
    """``["Lung Opacity=Bacterial Pneumonia", ...]`` -> ``{"Lung Opacity": "Bacterial Pneumonia"}``."""
    mapping = {}
    for item in items or ():
        if "=" not in item:
            raise ValueError(f"Relabel rules are OLD=NEW, got {item!r}")
        old, new = (part.strip() for part in item.split("=", 1))
        if not old or not new:
            raise ValueError(f"Relabel rules are OLD=NEW with both names non-empty, got {item!r}")
        mapping[old] = new
    return mapping
