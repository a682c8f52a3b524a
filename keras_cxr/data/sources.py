"""Adapters: public CXR dataset layouts -> one :class:`Manifest`.

Each adapter reads a dataset as published and maps its labels to the shared
vocabulary of :mod:`keras_cxr.data.labels`. Rows an adapter leaves out (CT
slices, lateral views, findings outside the class list) are counted and
reported in ``manifest.meta["excluded"]``, never dropped silently.
"""

import csv
import os
import re
from collections import Counter
from pathlib import Path

from keras_cxr.data import labels as L
from keras_cxr.data.decode import images_below, is_image_file
from keras_cxr.data.manifest import SPLITS, Manifest, note_file_name_patients, read_manifest
from keras_cxr.utils.logging import get_logger

# How many skipped file names a warning shows and the manifest's meta keeps (the count is always whole).
SHOWN_SKIPPED = 20

LAYOUTS = ("folders", "covid19_radiography", "kermany", "covid19_cxr", "cohen", "covidx")


def _order(found, classes, root=None):
    """The class list: ``classes`` as given (every one must have images), else the found labels sorted."""
    if classes is None:
        return sorted(found)
    missing = sorted(set(found) - set(classes))
    if missing:
        raise ValueError(f"Labels {missing} were found but are not in the given classes {list(classes)}")
    absent = [c for c in classes if c not in found]
    if absent:
        where = f" under {root}" if root is not None else ""
        raise ValueError(f"Classes {absent} were asked for but have no images{where} "
                         f"(classes with images: {sorted(found)})")
    return list(classes)


def _class_folder_files(class_dir):
    """(images, other files) below one class folder, sorted: the others are reported, not read."""
    files = sorted(p for p in Path(class_dir).rglob("*") if p.is_file())
    return [p for p in files if is_image_file(p)], [p for p in files if not is_image_file(p)]


# Files keras-cxr itself writes at the top of a dataset folder (`data preprocess`, `data check --out`): not data.
OWN_FILES = ("preprocess.json", "preprocess_errors.csv", "check.txt", "bad_files.csv")


def _outside_class_folders(root):
    """Files directly in ``root`` (but keras-cxr's own) and hidden folders: not any class's images."""
    return sorted(p for p in root.iterdir()
                  if (p.is_file() and p.name not in OWN_FILES) or (p.is_dir() and p.name.startswith(".")))


def _report_skipped(root, skipped, meta, reason="not an image file, or not inside a class folder"):
    """Warn about and record (``meta["skipped"]``) the files a layout does not read."""
    if not skipped:
        return
    names = [p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in skipped]
    meta["skipped"] = {"count": len(names), "reason": reason, "files": names[:SHOWN_SKIPPED]}
    more = f", ... ({len(names) - SHOWN_SKIPPED} more)" if len(names) > SHOWN_SKIPPED else ""
    get_logger().warning("%s: skipped %d file(s) (%s): %s%s",
                         root, len(names), reason, ", ".join(names[:SHOWN_SKIPPED]), more)


def from_folders(root, classes=None, source=None):
    """A folder per class (``root/<class>/**/image``); patient id = file stem.

    Nothing is left out in silence: non-image files (``.DS_Store``, ``Thumbs.db``, notes) and files
    outside class folders are warned about and listed in ``meta["skipped"]``; a class folder without
    images is warned about by name (``meta["empty_class_folders"]``), and an error if ``classes`` asks
    for it. Without patient ids the split is image-level, which is warned about too.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {root}")
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    records, skipped, empty = [], _outside_class_folders(root), []
    for class_dir in class_dirs:
        images, others = _class_folder_files(class_dir)
        skipped += others
        if not images:
            empty.append(class_dir.name)
        for path in images:
            records.append(
                {"path": str(path), "label": class_dir.name, "patient_id": path.stem, "source": source or root.name}
            )
    meta = {"layout": "folders"}
    _report_skipped(root, skipped, meta)
    if empty:
        meta["empty_class_folders"] = empty
        get_logger().warning("%s: class folder(s) without images, left out of the classes: %s",
                             root, ", ".join(str(root / name) for name in empty))
    if not records:
        raise ValueError(f"No images found in class folders under {root} (expected {root}/<class>/<image>)")
    order = _order({r["label"] for r in records}, classes, root)
    note_file_name_patients(meta, len(records), len(records), root)
    return Manifest(records, order, root, meta)


RADIOGRAPHY_FOLDERS = {
    "COVID": L.COVID,
    "Normal": L.NORMAL,
    "Viral Pneumonia": L.VIRAL,
    "Lung_Opacity": L.LUNG_OPACITY,
}


def from_covid19_radiography(root, lung_opacity_label=L.LUNG_OPACITY, classes=None):
    """The COVID-19 Radiography Database (Chowdhury et al. 2020; Rahman et al. 2021).

    Folders ``COVID``, ``Normal``, ``Viral Pneumonia``, ``Lung_Opacity``, images
    directly inside or under ``images/`` (masks under ``masks/`` are ignored).
    ``Lung_Opacity`` is non-COVID lung infection; Li et al. 2023 (ConvNeXt-AT, section 3.1)
    call it bacterial pneumonia: pass ``lung_opacity_label="Bacterial Pneumonia"`` to follow them.
    The database has no patient ids, so each image is its own patient.
    """
    root = Path(root)
    records = []
    for folder, label in RADIOGRAPHY_FOLDERS.items():
        directory = root / folder
        if not directory.is_dir():
            continue
        image_dir = directory / "images" if (directory / "images").is_dir() else directory
        label = lung_opacity_label if folder == "Lung_Opacity" else label
        for path in images_below(image_dir):
            if "masks" in path.relative_to(directory).parts:
                continue
            records.append({"path": str(path), "label": label, "patient_id": path.stem, "source": "covid19_radiography"})
    if not records:
        raise ValueError(f"{root} does not look like the COVID-19 Radiography Database: no {list(RADIOGRAPHY_FOLDERS)}")
    found = {r["label"] for r in records}
    default_order = [c for c in (L.COVID, L.BACTERIAL, L.LUNG_OPACITY, L.VIRAL, L.NORMAL) if c in found]
    order = _order(found, classes, root) if classes else default_order + sorted(found - set(default_order))
    meta = {"layout": "covid19_radiography"}
    if lung_opacity_label != L.LUNG_OPACITY:
        meta["relabel"] = {"Lung_Opacity": lung_opacity_label}
    note_file_name_patients(meta, len(records), len(records), root)
    return Manifest(records, order, root, meta)


_KERMANY_PATIENT = re.compile(r"^(person\d+)_", re.IGNORECASE)
_KERMANY_NORMAL_PATIENT = re.compile(r"(IM-\d+)", re.IGNORECASE)


def kermany_patient_id(filename):
    """``person123_bacteria_456.jpeg`` -> ``person123``; ``NORMAL2-IM-1427-0001`` -> ``IM-1427``."""
    stem = Path(filename).stem
    match = _KERMANY_PATIENT.match(stem) or _KERMANY_NORMAL_PATIENT.search(stem)
    return match.group(1) if match else stem


def _folder_key(name):
    """A folder name compared across spellings: ``COVID-19``, ``covid_19``, ``Covid19`` -> ``covid19``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test", "testing": "test"}


def _split_folders(root):
    """``[(split, folder)]`` of ``root``'s split folders, any case (``train``, ``Test``, ``validation``)."""
    found = []
    for child in sorted(Path(root).iterdir()):
        split = _SPLIT_FOLDERS.get(_folder_key(child.name)) if child.is_dir() else None
        if split:
            found.append((split, child))
    return sorted(found, key=lambda item: (SPLITS.index(item[0]), item[1].name))


def _descend_to_splits(root, wrapper_names=()):
    """``root``, or the one folder below it that holds the split folders (``chest_xray/``, a zip's top folder)."""
    if _split_folders(root):
        return root
    for name in wrapper_names:
        if (root / name).is_dir() and _split_folders(root / name):
            return root / name
    children = [c for c in root.iterdir() if c.is_dir() and not c.name.startswith(".") and c.name != "__MACOSX"]
    if len(children) == 1 and _split_folders(children[0]):
        return children[0]
    return root


def _unread_at_top(root, split_dirs):
    """Files and folders at the top of ``root`` that are neither split folders, hidden nor keras-cxr's own."""
    chosen = {folder for _, folder in split_dirs}
    return sorted(p for p in root.iterdir()
                  if p not in chosen and not p.name.startswith(".") and p.name not in OWN_FILES)


def _is_covid_folder(name):
    return _folder_key(name).startswith("covid")


KERMANY_FOLDERS = {"normal": "NORMAL", "pneumonia": "PNEUMONIA"}


def _class_folders(split_dirs, skipped):
    """``(split, class folder)`` below each split folder; files beside the class folders go to ``skipped``."""
    for split, split_dir in split_dirs:
        for child in sorted(split_dir.iterdir()):
            if child.name.startswith(".") and child.is_dir():
                continue
            if child.is_dir():
                yield split, child
            else:
                skipped.append(child)


def from_kermany(root, split_pneumonia=True, classes=None):
    """Kermany/Mooney ``chest_xray``: ``train|val|test/NORMAL|PNEUMONIA``.

    PNEUMONIA is split into bacterial and viral from the file names
    (``personN_bacteria_M`` / ``personN_virus_M``); the published split is kept
    in the ``split`` column (re-split by patient with ``keras-cxr data split``).
    Folder names are matched in any case. A split folder holding any other
    folder is an error naming it, never skipped in silence: a ``COVID19`` folder
    means Zhong 2020's COVID-19-CXR (Kermany's tree plus COVID-19 X-rays), to be
    read with ``layout="covid19_cxr"``. Files that are not images, and files or
    folders beside the split folders, are warned about and listed in
    ``meta["skipped"]``; pneumonia files named neither bacteria nor virus are
    counted in ``meta["excluded"]``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {root}")
    root = _descend_to_splits(root, wrapper_names=("chest_xray",))
    split_dirs = _split_folders(root)
    records, excluded, skipped = [], Counter(), []
    for split, child in _class_folders(split_dirs, skipped):
        folder = KERMANY_FOLDERS.get(_folder_key(child.name))
        if folder is None:
            where = child.relative_to(root).as_posix()
            if _is_covid_folder(child.name):
                raise ValueError(
                    f"{root}: folder {where}/ holds COVID-19 images, which Kermany's chest_xray does not "
                    f"have: this is Zhong 2020's COVID-19-CXR layout; read it with --layout covid19_cxr "
                    f"(build_manifest(..., layout='covid19_cxr'))")
            raise ValueError(
                f"{root}: folder {where}/ is not a class of Kermany's chest_xray (NORMAL, PNEUMONIA); "
                f"move it out of {child.parent.name}/, or read the tree with --layout covid19_cxr (COVID19, "
                f"NORMAL, PNEUMONIA) or --layout folders (a folder per class)")
        images, others = _class_folder_files(child)
        skipped += others
        for path in images:
            name = path.name.lower()
            if folder == "NORMAL":
                label = L.NORMAL
            elif not split_pneumonia:
                label = L.PNEUMONIA
            elif "bacteria" in name:
                label = L.BACTERIAL
            elif "virus" in name:
                label = L.VIRAL
            else:
                excluded["PNEUMONIA file name names neither bacteria nor virus"] += 1
                continue
            records.append(
                {
                    "path": str(path),
                    "label": label,
                    "patient_id": kermany_patient_id(path.name),
                    "source": "kermany",
                    "split": split,
                }
            )
    if not records:
        raise ValueError(f"{root} does not look like Kermany's chest_xray: no train|val|test/NORMAL|PNEUMONIA")
    default = [L.BACTERIAL, L.VIRAL, L.NORMAL] if split_pneumonia else [L.NORMAL, L.PNEUMONIA]
    found = {r["label"] for r in records}
    order = _order(found, classes, root) if classes else [c for c in default if c in found]
    meta = {"layout": "kermany", "excluded": dict(excluded)}
    _report_skipped(root, skipped + _unread_at_top(root, split_dirs), meta,
                    reason="not an image file, or not inside a train|val|test/NORMAL|PNEUMONIA folder")
    # A name without personN_ or IM-N_ has no patient in it: that image is its own patient.
    unnamed = sum(1 for r in records if r["patient_id"] == Path(r["path"]).stem)
    note_file_name_patients(meta, unnamed, len(records), root)
    return Manifest(records, order, root, meta)


# Zhong 2020, section 3.1, Table 1: the published test split of COVID-19-CXR (740 images).
COVID19_CXR_TEST_COUNTS = {L.COVID: 100, L.NORMAL: 242, L.PNEUMONIA: 398}
COVID19_CXR_FOLDERS = {"normal": L.NORMAL, "pneumonia": L.PNEUMONIA}


def covid19_cxr_label(folder_name):
    """A COVID-19-CXR class folder's label (``COVID19``, ``COVID-19``, ``covid19`` ... -> COVID-19), or None."""
    if _is_covid_folder(folder_name):
        return L.COVID
    return COVID19_CXR_FOLDERS.get(_folder_key(folder_name))


def from_covid19_cxr(root, classes=None):
    """Zhong 2020's COVID-19-CXR (section 3.1): ``train|test/COVID19|NORMAL|PNEUMONIA``.

    6,354 X-rays merged from Cohen's covid-chestxray-dataset, the Figure 1 and Actualmed initiatives and
    Kermany's pediatric pneumonia set (Table 1: train 398 / 1,341 / 3,875, test 100 / 242 / 398 for
    COVID-19 / Normal / Pneumonia). Labels COVID-19, Normal, Pneumonia; folder names in any case and
    spelling (``COVID19``, ``COVID-19``, ``covid19``; ``Train``, ``TEST``; a ``val`` folder is read too).
    The published split is kept in the ``split`` column (the fixed 740-image test set; carve validation
    patients from train with :func:`keras_cxr.data.splits.carve_validation`). Patient ids: Kermany's
    file names carry them (``person12_bacteria_34`` -> ``person12``); any other image is its own
    patient (noted in the manifest's meta, and warned: the split is image-level for those rows).

    Nothing is left out in silence: images in a folder that is not one of the three classes are counted
    in ``meta["excluded"]`` by folder; non-image files and anything beside the split and class folders
    are warned about and listed in ``meta["skipped"]``. Test counts other than Table 1's are logged.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Dataset folder not found: {root}")
    root = _descend_to_splits(root)
    split_dirs = _split_folders(root)
    records, excluded, skipped = [], Counter(), []
    for split, child in _class_folders(split_dirs, skipped):
        images, others = _class_folder_files(child)
        skipped += others
        label = covid19_cxr_label(child.name)
        if label is None:
            if images:
                excluded[f"folder {child.relative_to(root).as_posix()}/ is not COVID19, NORMAL or "
                         f"PNEUMONIA"] += len(images)
            continue
        for path in images:
            patient = kermany_patient_id(path.name)
            records.append({"path": str(path), "label": label, "patient_id": patient,
                            "source": "covid19_cxr", "split": split})
    if not records:
        raise ValueError(f"{root} does not look like Zhong 2020's COVID-19-CXR: no train|test/COVID19|NORMAL|"
                         f"PNEUMONIA folders with images")
    found = {r["label"] for r in records}
    order = _order(found, classes, root) if classes else [c for c in L.THREE_CLASSES if c in found]
    meta = {"layout": "covid19_cxr", "excluded": dict(excluded)}
    if excluded:
        get_logger().warning("%s: left out %d image(s) in folders that are not COVID-19-CXR classes: %s", root,
                             sum(excluded.values()), "; ".join(f"{n} ({why})" for why, n in excluded.items()))
    _report_skipped(root, skipped + _unread_at_top(root, split_dirs), meta,
                    reason="not an image file, or not inside a train|test/COVID19|NORMAL|PNEUMONIA folder")
    test = Counter(r["label"] for r in records if r["split"] == "test")
    if test and dict(test) != COVID19_CXR_TEST_COUNTS:
        get_logger().info("%s: test split %s differs from Zhong 2020's (Table 1: %s, 740 images)", root,
                          {c: test.get(c, 0) for c in COVID19_CXR_TEST_COUNTS}, COVID19_CXR_TEST_COUNTS)
    unnamed = sum(1 for r in records if r["patient_id"] == Path(r["path"]).stem)
    note_file_name_patients(meta, unnamed, len(records), root)
    return Manifest(records, order, root, meta)


COHEN_VIEWS = ("PA", "AP", "AP Supine")


def cohen_label(finding):
    """Map a covid-chestxray-dataset ``finding`` to a class, or None."""
    finding = (finding or "").strip()
    if "COVID-19" in finding:
        return L.COVID
    if finding.startswith("Pneumonia/Bacterial"):
        return L.BACTERIAL
    if finding.startswith("Pneumonia/Viral"):
        return L.VIRAL
    if finding == "No Finding":
        return L.NORMAL
    return None


def from_cohen(root, views=COHEN_VIEWS, classes=None):
    """Cohen's covid-chestxray-dataset: ``metadata.csv`` + ``images/``.

    Keeps X-rays in frontal views (PA, AP, AP Supine) and maps findings to
    COVID-19, bacterial, viral pneumonia or normal; every other row is counted
    in ``meta["excluded"]`` with the reason.
    """
    root = Path(root)
    metadata = root / "metadata.csv"
    if not metadata.is_file():
        raise FileNotFoundError(f"Cohen's dataset needs {metadata}")
    records, excluded = [], Counter()
    with open(metadata, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row.get("modality") or "").strip() != "X-ray":
                excluded[f"modality {row.get('modality')!r}"] += 1
                continue
            if (row.get("view") or "").strip() not in views:
                excluded[f"view {row.get('view')!r}"] += 1
                continue
            label = cohen_label(row.get("finding"))
            if label is None:
                excluded[f"finding {row.get('finding')!r}"] += 1
                continue
            folder = (row.get("folder") or "images").strip() or "images"
            path = root / folder / row["filename"].strip()
            records.append(
                {"path": str(path), "label": label, "patient_id": f"cohen_{row['patientid'].strip()}", "source": "cohen"}
            )
    if not records:
        raise ValueError(f"{metadata}: no frontal X-ray rows with a usable finding")
    found = {r["label"] for r in records}
    order = _order(found, classes, root) if classes else [c for c in L.FOUR_CLASSES if c in found]
    return Manifest(records, order, root, {"layout": "cohen", "excluded": dict(excluded)})


COVIDX_CLASSES = {
    "covid-19": L.COVID,
    "covid": L.COVID,
    "positive": L.COVID,
    "normal": L.NORMAL,
    "pneumonia": L.PNEUMONIA,
    "negative": "Negative",
}


def from_covidx(root, classes=None):
    """COVIDx split files (``patientid filename class source`` per line).

    Reads every ``*train*.txt``, ``*val*.txt`` and ``*test*.txt`` in ``root``;
    images are looked up in ``root/<split>/``. The split of the file is kept.
    """
    root = Path(root)
    records = []
    for split in SPLITS:
        for split_file in sorted(root.glob(f"*{split}*.txt")):
            for number, line in enumerate(split_file.read_text().splitlines(), start=1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 3:
                    raise ValueError(f"{split_file}, line {number}: expected 'patientid filename class [source]'")
                patient, filename, raw = parts[0], parts[1], parts[2]
                label = COVIDX_CLASSES.get(raw.lower())
                if label is None:
                    raise ValueError(f"{split_file}, line {number}: unknown COVIDx class {raw!r}")
                records.append(
                    {
                        "path": str(root / split / filename),
                        "label": label,
                        "patient_id": f"covidx_{patient}",
                        "source": parts[3] if len(parts) > 3 else "covidx",
                        "split": split,
                    }
                )
    if not records:
        raise ValueError(f"No COVIDx split files (*train*.txt, *val*.txt, *test*.txt) in {root}")
    found = {r["label"] for r in records}
    default = [L.COVID, L.PNEUMONIA, L.NORMAL, "Negative"]
    order = _order(found, classes, root) if classes else [c for c in default if c in found]
    return Manifest(records, order, root, {"layout": "covidx"})


ADAPTERS = {
    "folders": from_folders,
    "covid19_radiography": from_covid19_radiography,
    "kermany": from_kermany,
    "covid19_cxr": from_covid19_cxr,
    "cohen": from_cohen,
    "covidx": from_covidx,
}


def build_manifest(source, layout="folders", relabel=None, classes=None, **options):
    """Read ``source`` with the adapter for ``layout``, then apply ``relabel`` and the class order."""
    if layout not in ADAPTERS:
        raise ValueError(f"Unknown layout {layout!r}. Valid choices: {list(ADAPTERS)}")
    manifest = ADAPTERS[layout](source, **options)
    if relabel:
        manifest = manifest.relabel(relabel)
    if classes:
        manifest = Manifest(manifest.records, _order({r["label"] for r in manifest.records}, classes, source),
                            manifest.root, manifest.meta)
    return manifest


def load_any(source, classes=None, allow_duplicates=False):
    """A manifest CSV, or a folder: ``DIR/manifest.csv`` if present, else a folder per class."""
    source = Path(os.fspath(source))
    if source.is_file():
        return read_manifest(source, classes=classes, allow_duplicates=allow_duplicates)
    if (source / "manifest.csv").is_file():
        return read_manifest(source / "manifest.csv", classes=classes, allow_duplicates=allow_duplicates)
    if source.is_dir():
        return from_folders(source, classes=classes)
    raise FileNotFoundError(f"No manifest or image folder at {source}")
