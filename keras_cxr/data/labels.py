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

# The four classes of Li et al. 2023 (ConvNeXt-AT) and Cheng et al. (DPN-SENet), in the order the
# papers list them.
FOUR_CLASSES = (COVID, BACTERIAL, VIRAL, NORMAL)
# The three classes of Zhong 2020 (section 3.1, Table 1: COVID-19-CXR).
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

# The label vocabulary's parent relation: a finding -> the broader class it belongs to. A recipe
# with the coarser classes (Zhong 2020's three) can then train on data labelled with the finer ones.
PARENTS = {BACTERIAL: PNEUMONIA, VIRAL: PNEUMONIA}

# The override that trains on the data's own classes when a recipe's data.classes cannot be met.
DATA_CLASSES_OVERRIDE = "data.classes=null"
BALANCED_WEIGHT_OVERRIDE = "training.class_weight=balanced"
_UNSET = object()


def ancestors(label):
    """``label`` and its parents, nearest first: ``Viral Pneumonia`` -> [``Viral Pneumonia``, ``Pneumonia``]."""
    chain = [label]
    while chain[-1] in PARENTS and PARENTS[chain[-1]] not in chain:
        chain.append(PARENTS[chain[-1]])
    return chain


def class_mapping(data_classes, wanted):
    """``({data class: wanted class}, unmapped data classes)``: each class to its nearest ancestor in ``wanted``."""
    mapping, unmapped = {}, []
    for name in data_classes:
        target = next((a for a in ancestors(name) if a in wanted), None)
        if target is None:
            unmapped.append(name)
        else:
            mapping[name] = target
    return mapping, unmapped


def align_classes(manifest, wanted, class_weight=_UNSET):
    """Fit ``manifest`` to a recipe's class list ``wanted``; returns ``(manifest, merged)``.

    Needed because a recipe fixes its classes (Zhong 2020: COVID-19, Normal, Pneumonia) while the data
    may be labelled more finely (bacterial and viral pneumonia). ``wanted`` None or the data's own
    classes: unchanged (reordered to ``wanted`` if only the order differs), ``merged`` is ``{}``. Else
    every data class must reach a wanted class through :data:`PARENTS` and every wanted class must
    receive one; rows are relabelled and ``merged`` is ``{data class: wanted class}`` for the renamed
    classes (also recorded in ``manifest.meta["relabel"]``). Otherwise ``ValueError`` ("classes do not
    match") naming both lists and the overrides that train on the data's classes instead.
    ``class_weight``: the recipe's ``training.class_weight``; the suggested overrides include
    ``training.class_weight=balanced`` unless it is known to fit the data's classes.
    """
    if wanted is None:
        return manifest, {}
    wanted = list(wanted)
    if len(set(wanted)) != len(wanted):
        raise ValueError(f"Duplicate class names in data.classes {wanted}")
    if wanted == manifest.classes:
        return manifest, {}
    mapping, unmapped = class_mapping(manifest.classes, wanted)
    empty = [c for c in wanted if c not in mapping.values()]
    if unmapped or empty:
        raise ValueError(_mismatch_message(manifest.classes, wanted, unmapped, empty, class_weight))
    merged = {old: new for old, new in mapping.items() if old != new}
    if not merged:
        return type(manifest)(manifest.records, wanted, manifest.root, dict(manifest.meta)), {}
    from keras_cxr.utils.logging import get_logger

    get_logger().info("Merging the data's classes into the recipe's %s: %s", wanted,
                      ", ".join(f"{old} -> {new}" for old, new in merged.items()))
    return manifest.relabel(merged, classes=wanted), merged


def _mismatch_message(data_classes, wanted, unmapped, empty, class_weight):
    """Why the classes cannot be aligned, and the exact overrides that run on the data's own classes."""
    reasons = []
    if unmapped:
        reasons.append(f"{unmapped} map onto no class of data.classes (label parents: {PARENTS})")
    if empty:
        reasons.append(f"no data class maps onto {empty}")
    fits = class_weight is not _UNSET and (not isinstance(class_weight, dict) or set(class_weight) <= set(data_classes))
    overrides = DATA_CLASSES_OVERRIDE if fits else f"{DATA_CLASSES_OVERRIDE} {BALANCED_WEIGHT_OVERRIDE}"
    why_weight = "" if fits else (" (training.class_weight=balanced because a recipe's class_weight mapping "
                                  "is keyed by its own class names)")
    return (f"The data's classes do not match the recipe's data.classes: the data has {list(data_classes)}, "
            f"data.classes is {list(wanted)}; {'; '.join(reasons)}. Relabel the data "
            f"(keras-cxr data manifest --relabel OLD=NEW), or train on the data's classes with the overrides: "
            f"{overrides}{why_weight}")
