"""``reproduce(paper, data, out_dir)``: a paper's whole protocol, from its data to its tables.

For every row of the paper's tables: train the row's shipped recipe on the data (the recipe's
own split rule: Zhong 2020's published test set is kept, the others split by patient), score
it on the split the paper reports (validation or test) with :func:`keras_cxr.evaluation.evaluate`,
and write ``reproduce.md`` (each table: the paper's number, the measured one, the difference)
and ``results.json``. Every row is an ordinary run directory, so a killed reproduction
continues where it stopped and each run can be evaluated, explained and exported as usual.
"""

import json
import re
from collections import defaultdict
from pathlib import Path

from keras_cxr.pages.image_browser import BROWSER_IMAGES
from keras_cxr.papers import get_paper
from keras_cxr.reproduce.metrics import COVID, row_metrics
from keras_cxr.reproduce.protocols import get_protocol
from keras_cxr.reproduce.tables import render_report
from keras_cxr.utils.logging import get_logger
from keras_cxr.utils.outputs import is_marked, mark_output_dir, write_text_atomic

# --quick: one short eager epoch at a small input on a few images per class, nothing downloaded.
# Eager: on a few dozen images, tracing a deep network's training graph costs more than the steps (DenseNet-121:
# 42.6 s traced against 7.5 s eager for one epoch of 20 images at 64 px).
QUICK_OVERRIDES = ("training.epochs=1", "training.batch_size=8", "training.warmup_epochs=0", "model.weights=null",
                   "data.cache=null", "training.run_eagerly=true")
QUICK_IMAGES_PER_CLASS = 12  # per split
QUICK_INPUT_SIZE = 64


def quick_input_size(spec):
    """The smallest input a quick run gives ``spec``: its own default when small (Zhong 2020's 80), else 64+."""
    if spec.default_input_shape[0] <= 96:
        return spec.default_input_shape[0]
    size = max(QUICK_INPUT_SIZE, spec.min_input_size)
    multiple = spec.input_size_multiple
    return -(-size // multiple) * multiple


def row_config(row, overrides=(), quick=False):
    """The validated config of one row: its recipe, its overrides, the user's, then --quick's."""
    from keras_cxr.models import get_spec
    from keras_cxr.training.config import load_config

    items = list(row.overrides) + list(overrides)
    config = load_config(row.recipe, items)
    if quick:
        size = quick_input_size(get_spec(config["model"]["name"]))
        config = load_config(row.recipe, items + list(QUICK_OVERRIDES) + [f"model.input_size={size}"])
    return config


def quick_subset(manifest, per_class=QUICK_IMAGES_PER_CLASS):
    """The first ``per_class`` images of each class in each split, whole patients at a time."""
    from keras_cxr.data.manifest import Manifest

    by_patient = defaultdict(list)
    for record in manifest.records:
        by_patient[(record.get("split", ""), record["label"], record["patient_id"])].append(record)
    kept, counts = [], defaultdict(int)
    for (split, label, _), records in sorted(by_patient.items()):
        if counts[(split, label)] < per_class:
            kept += records
            counts[(split, label)] += len(records)
    return Manifest(kept, manifest.classes, manifest.root, dict(manifest.meta, quick_subset=per_class))


def read_data(protocol, data, layout=None):
    """A manifest CSV as it is; a folder through ``layout`` (default: the paper's dataset layout)."""
    from keras_cxr.data.sources import load_any
    from keras_cxr.data.sources import build_manifest

    path = Path(data)
    if path.is_file() or (path / "manifest.csv").is_file():
        return load_any(path)
    layout = layout or protocol.layout
    options = protocol.layout_options if layout == protocol.layout else {}
    return build_manifest(path, layout=layout, **options)


def _slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _prepare_out(out_dir):
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not is_marked(out_dir):
        raise ValueError(f"{out_dir} is not empty and was not made by keras-cxr reproduce; choose another --out")
    mark_output_dir(out_dir, "reproduction")


def _select(protocol, only):
    """The rows named in ``only`` (row names or recipe names such as ``dpn92_se``), in protocol order."""
    if not only:
        return protocol.rows
    wanted = {name.strip() for name in (only.split(",") if isinstance(only, str) else only)}
    unknown = wanted - {r.name for r in protocol.rows} - {r.recipe.split("/")[-1] for r in protocol.rows}
    if unknown:
        raise ValueError(f"{protocol.paper} has no row {sorted(unknown)}. Rows: "
                         + ", ".join(f"{r.name!r} ({r.recipe.split('/')[-1]})" for r in protocol.rows))
    return tuple(r for r in protocol.rows if r.name in wanted or r.recipe.split("/")[-1] in wanted)


def _check_scored_split(protocol, manifest, config):
    """A paper scored on its published test set needs data with one (or a test fraction to make one)."""
    if protocol.score_split == "test" and not manifest.has_splits() and config["data"]["test_fraction"] == 0:
        raise ValueError(
            f"{protocol.paper} scores the test split of its dataset, and this data has no split column: give the "
            f"dataset in its published layout (--layout {protocol.layout}) or a manifest with a split column, or make "
            "a patient-level test split with --set data.test_fraction=0.2")


def run_row(protocol, row, data_csv, out_dir, *, quick=False, overrides=(), external=None, verbose="auto"):
    """Train and score one row; returns ``{"recipe", "overrides", "run_dir", "metrics"}``."""
    from keras_cxr.evaluation import evaluate
    from keras_cxr.training import train

    config = row_config(row, overrides, quick)
    run_dir = Path(out_dir) / _slug(row.name)
    result = train(config, data_csv, run_dir, verbose=verbose)
    positive = COVID if COVID in result.classes else None
    # A quick run is a smoke test of the protocol: its evaluations skip report.html's image browser (Grad-CAM
    # of every shown image); a full run keeps it.
    common = dict(positive_class=positive, bootstrap_resamples=200 if quick else 1000,
                  report_images=0 if quick else BROWSER_IMAGES)
    metrics = evaluate(run_dir, run_dir / "split.csv", run_dir / "evaluation", split=protocol.score_split,
                       throughput=protocol.measure_speed, **common)
    external_metrics = None
    if external is not None:
        external_metrics = evaluate(run_dir, external, run_dir / "evaluation_external", split=None,
                                    throughput=False, **common)
    return {"recipe": row.recipe, "overrides": list(row.overrides) + list(overrides), "run_dir": str(run_dir),
            "metrics": row_metrics(metrics, external_metrics)}


def reproduce(paper, data, out_dir, *, layout=None, quick=False, only=None, overrides=(), external=None,
              verbose="auto"):
    """Run ``paper``'s protocol on ``data`` into ``out_dir``; returns ``{row name: result}``.

    ``only``: row names or recipe names (``dpn92_se``) to run a part of a comparison;
    ``overrides``: ``key=value`` applied to every row (``data.augment=none`` for Cheng et
    al.'s no-augmentation arm); ``external``: an external test set (Covid-DenseNet).
    """
    protocol, reference = get_protocol(paper), get_paper(paper)
    rows = _select(protocol, only)
    out_dir = Path(out_dir)
    _prepare_out(out_dir)
    manifest = read_data(protocol, data, layout)
    _check_scored_split(protocol, manifest, row_config(rows[0], overrides, quick))
    if quick:
        manifest = quick_subset(manifest)
    data_csv = manifest.write(out_dir / "data.csv")
    summary = f"`{data}` ({len(manifest.records)} images, classes {manifest.classes})"
    log, results = get_logger(), {}
    for number, row in enumerate(rows, start=1):
        log.info("reproduce %s: row %d of %d, %s (%s)", paper, number, len(rows), row.name, row.recipe)
        results[row.name] = run_row(protocol, row, data_csv, out_dir, quick=quick, overrides=overrides,
                                    external=external, verbose=verbose)
        write_text_atomic(out_dir / "results.json", json.dumps({"paper": paper, "quick": quick, "rows": results},
                                                                indent=2, default=float) + "\n")
        write_text_atomic(out_dir / "reproduce.md", render_report(protocol, reference, results, quick, summary))
    return results
