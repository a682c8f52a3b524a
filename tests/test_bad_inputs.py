"""The bad-input suite: every awkward input a user may hand keras_cxr, through every command.

Rows are inputs (broken files, valid-but-unusual files, awkward manifests and
folders), columns are ``data check``, ``train``, ``evaluate``, ``predict`` with
a Keras run and with its ``.tflite`` export, and ``explain``, all run through
the command line in-process (``keras_cxr.cli.main``). Each input sits in a
small dataset beside valid synthetic X-rays. A cell passes when the command
exits 0, 1 or 2 (never an uncaught exception), names a bad file with its
reason wherever it reports (stdout/stderr, ``bad_files.csv``, the predictions
CSV, ``summary.json``, ``metrics.json``), still processes the valid files of
the same run, and processes valid inputs instead of reporting them. The
observed matrix is written to ``docs/RELIABILITY.md``.

What a user gets, by decision (see docs/RELIABILITY.md for the reasons):

- an unreadable file: ``data check``, ``predict`` and ``explain`` report it and
  go on (exit 1); ``train`` and ``evaluate`` stop before the first epoch or the
  first score (exit 2) naming it and ``bad_files.csv``; with ``--skip-bad`` they
  leave it out, listed, and run on the rest;
- 16-bit, RGBA, palette, CMYK, DICOM MONOCHROME1, unicode/space paths and a
  CSV with a byte-order mark are valid and processed (and decode to the same
  pixels as the 8-bit PNG of the same image);
- a 1x1 image decodes but holds no radiograph: refused with its size;
- a manifest listing a file twice: an error naming the rows everywhere but
  ``data check``, which reports it;
- an empty class folder: warned about by name; with a recipe's fixed classes
  ``train`` stops naming the class without images;
- a class set other than the model's: ``evaluate`` and ``train`` (recipe
  classes) stop naming both sets; ``predict``/``explain`` never read labels.

Cost: one tiny model is trained once (resnet18 at 32 px, one epoch, with
``--skip-bad`` on a manifest holding every input: the skip behaviour, BOM,
unicode paths and the valid inputs are observed in that run) and exported to
``.tflite`` once. ``train`` cells of bad inputs stop before the model is
built; the ``evaluate`` cells of valid inputs come from one ``--skip-bad``
evaluation holding every input. Model files are read once (a memoised
``load_classifier``); everything after loading runs per cell. Everything runs
in one test so that pytest-xdist cannot split the matrix across workers.
"""

import csv
import dataclasses
import io
import json
import logging
import os
import re
import shutil
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_cxr.cli import main
from keras_cxr.data import generate_dataset
from keras_cxr.data.image_converter import ImageConverter
from keras_cxr.data.synthetic import class_folder, synthetic_cxr
from keras_cxr.testing import (TINY_TRAINING, write_compressed_dicom, write_dicom, write_dicom_without_pixels,
                               write_png_claiming_size)

DOC = Path(__file__).resolve().parents[1] / "docs" / "RELIABILITY.md"
CLASSES = ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]
TINY = [*TINY_TRAINING, f"data.classes=[{', '.join(CLASSES)}]"]
COMMANDS = ("data check", "train", "evaluate", "predict (Keras run)", "predict (.tflite)", "explain")
HEADER = ["path", "label", "patient_id", "source"]


# -- the inputs ------------------------------------------------------------------------------------------
def _u8(image):
    return np.round(image * 255).astype(np.uint8)


def _encoded(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png8(path, image):
    Image.fromarray(_u8(image)).save(path)


def _write(data):
    return lambda path, image: path.write_bytes(data(image) if callable(data) else data)


def _half(data):
    return data[: len(data) // 2]


@dataclasses.dataclass
class Input:
    key: str
    row: str
    kind: str  # "file" (given to every command beside valid images), "manifest" or "folder"
    valid: bool = False  # file kinds: processed (True) or reported/refused with ``reason`` (False)
    name: str = ""  # file kinds: the file name (a path below the inputs folder)
    make: object = None  # file kinds: (path, float image) -> writes the file
    reason: str = ""  # regex the reported reason must match
    tolerance: int = 1  # valid files: largest grey-level difference from the 8-bit PNG of the same image


INPUTS = [
    Input("zero", "zero-byte file", "file", name="zero_bytes.png", make=_write(b""), reason="empty file"),
    Input("trunc_png", "truncated PNG", "file", name="truncated.png",
          make=_write(lambda im: _half(_encoded(Image.fromarray(_u8(im)), "PNG"))), reason="truncated or corrupt"),
    Input("trunc_jpg", "truncated JPEG", "file", name="truncated.jpg",
          make=_write(lambda im: _half(_encoded(Image.fromarray(_u8(im)), "JPEG", quality=90))),
          reason="truncated or corrupt"),
    Input("text_png", "text saved as .png", "file", name="notes.png",
          make=_write(b"Patient notes: follow-up in 2 weeks.\n"), reason="not an image"),
    Input("html_jpg", "HTML saved as .jpg", "file", name="download.jpg",
          make=_write(b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>\n"), reason="not an image"),
    Input("png16", "16-bit PNG (12-bit content)", "file", valid=True, name="sixteen_bit.png",
          make=lambda p, im: Image.fromarray(np.round(im * 4095).astype(np.uint16)).save(p)),
    Input("rgba", "RGBA PNG", "file", valid=True, name="rgba.png",
          make=lambda p, im: Image.fromarray(np.dstack([_u8(im)] * 3 + [np.full(im.shape, 180, np.uint8)])).save(p)),
    Input("palette", "palette PNG", "file", valid=True, name="palette.png",
          make=lambda p, im: Image.fromarray(_u8(im)).convert("P").save(p)),
    Input("cmyk", "CMYK JPEG", "file", valid=True, name="cmyk.jpg", tolerance=6,
          make=lambda p, im: Image.fromarray(_u8(im)).convert("CMYK").save(p, quality=95)),
    Input("mono1", "DICOM MONOCHROME1", "file", valid=True, name="mono1.dcm",
          make=lambda p, im: write_dicom(p, np.round((1.0 - im) * 4095).astype(np.uint16), photometric="MONOCHROME1")),
    Input("dicom_nopix", "DICOM without pixel data", "file", name="no_pixels.dcm",
          make=lambda p, im: write_dicom_without_pixels(p), reason="DICOM without pixel data"),
    Input("dicom_jpegls", "DICOM, JPEG-LS (no decoder installed)", "file", name="jpeg_ls.dcm",
          make=lambda p, im: write_compressed_dicom(p),
          reason="DICOM compressed as JPEG-LS|unreadable DICOM pixel data"),
    Input("bomb", "over Pillow's decompression-bomb limit (header claims 100000x100000)", "file",
          name="bomb.png", make=lambda p, im: write_png_claiming_size(p, 100_000, 100_000), reason="image too large"),
    Input("one_pixel", "1x1 image", "file", name="one_pixel.png",
          make=lambda p, im: Image.fromarray(np.full((1, 1), 128, np.uint8)).save(p), reason="too small"),
    Input("unicode", "unicode and spaces in the path", "file", valid=True,
          name="röntgen bilder 肺/Ünïcödé x-ray ü.png", make=_png8),
    Input("missing", "manifest row whose file is missing", "manifest", reason="file not found"),
    Input("duplicates", "manifest listing a file twice", "manifest", reason="listed on more than one row"),
    Input("bom", "manifest CSV with a UTF-8 BOM", "manifest", valid=True),
    Input("empty_class", "empty class folder", "folder"),
    Input("other_classes", "class set other than the model's", "manifest"),
]


# -- building the datasets ---------------------------------------------------------------------------------
def _write_manifest(path, rows, bom=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([r["path"], r["label"], r["patient_id"], r["source"]] for r in rows)
    return path


def _row(path, label, patient):
    return {"path": str(path), "label": label, "patient_id": patient, "source": "bad-input suite"}


@dataclasses.dataclass
class World:
    root: Path
    run: Path
    tflite: Path
    synth_rows: list  # the training images
    eval_rows: list  # one held-out image per class (other patients, other pixels)
    files: dict  # key -> {"train": path, "eval": path} for file inputs
    train_run: dict  # the module's training run: exit code, output, bad_files.csv rows, split paths
    seconds: dict


def _images(seed, count):
    return [synthetic_cxr(CLASSES[i % 4], 48, seed=[seed, i])[0] for i in range(count)]


def _build_files(root):
    """Two variants of every file input (other pixels, other patients): one trained on, one evaluated."""
    files = {}
    for variant, seed in (("train", 11), ("eval", 12)):
        images = _images(seed, len(INPUTS))
        for index, case in enumerate(INPUTS):
            if case.kind != "file":
                continue
            path = root / "inputs" / variant / case.name
            path.parent.mkdir(parents=True, exist_ok=True)
            case.make(path, images[index])
            files.setdefault(case.key, {})[variant] = path
            files[case.key][f"{variant}_label"] = CLASSES[index % 4]
            files[case.key][f"{variant}_image"] = images[index]
    return files


def _run_quietly(args):
    """``main(args)`` with its output kept: (exit code, stdout + stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Synthetic data, every input, one trained run (with --skip-bad over all inputs) and its .tflite."""
    root = tmp_path_factory.mktemp("bad inputs")
    seconds = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_CXR_CACHE", str(root / ".cache"))
        manifest = generate_dataset(root / "synth", per_class=6, size=48, seed=0)
        synth_rows = [_row(manifest.resolve(r), r["label"], r["patient_id"]) for r in manifest.records]
        eval_rows = []
        for index, image in enumerate(_images(13, 4)):
            path = root / "held out" / class_folder(CLASSES[index]) / f"held_out_{index}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            _png8(path, image)
            eval_rows.append(_row(path, CLASSES[index], f"held_out_{index}"))
        files = _build_files(root)
        rows = list(synth_rows)
        rows += [_row(f["train"], f["train_label"], f"train_{key}") for key, f in files.items()]
        rows.append(_row(root / "inputs" / "train" / "missing.png", "Normal", "train_missing"))
        data = _write_manifest(root / "train" / "all inputs.csv", rows, bom=True)
        start = time.perf_counter()
        code, output = _run_quietly(["train", "--data", data, "--out", root / "run", "--epochs", "1", "--skip-bad",
                                     *TINY])
        seconds["train (once)"] = time.perf_counter() - start
        assert code == 0, output[-3000:]
        bad_files = root / "run" / "bad_files.csv"
        with open(bad_files, newline="") as handle:
            bad = {r["path"]: r["reason"] for r in csv.DictReader(handle)}
        with open(root / "run" / "split.csv", newline="", encoding="utf-8") as handle:
            split = {str((root / "run" / r["path"]).resolve()) for r in csv.DictReader(handle)}
        start = time.perf_counter()
        code, output = _run_quietly(["export", "--model", root / "run", "--out", root / "tflite" / "model.tflite"])
        seconds["export .tflite (once)"] = time.perf_counter() - start
        assert code == 0, output[-3000:]
    train_run = {"code": code, "bad": bad, "split": split, "rows": len(rows)}
    return World(root, root / "run", root / "tflite" / "model.tflite", synth_rows, eval_rows, files, train_run,
                 seconds)


# -- running a cell ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    code: object
    out: str
    err: str
    crash: str = ""

    @property
    def text(self):
        return self.out + "\n" + self.err


class _Log(logging.Handler):
    """What the keras_cxr logger says (its warnings go to stderr in a terminal), whether it propagates or not."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


class Cells:
    """Runs CLI commands with captured output and records each cell's observed outcome."""

    def __init__(self, capsys):
        from keras_cxr.utils.logging import get_logger

        self.capsys, self.log, self.logger = capsys, _Log(), get_logger()
        self.results = {}  # (input key, command) -> (status, text)
        self.failures = []

    def __enter__(self):
        self.level = self.logger.level
        self.logger.addHandler(self.log)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.log)
        self.logger.setLevel(self.level)

    def cli(self, *args):
        self.capsys.readouterr()
        self.log.lines.clear()
        try:
            code = main([str(a) for a in args])
            crash = ""
        except SystemExit as exit_:  # argparse
            code, crash = exit_.code, ""
        except Exception:  # noqa: BLE001 - an uncaught exception is what this suite looks for
            code, crash = None, traceback.format_exc()
        out, err = self.capsys.readouterr()
        return Run(code, out, err + "\n" + "\n".join(self.log.lines), crash)

    def record(self, case, command, expected, observe):
        """``observe()`` -> (status, text) or raises AssertionError (a silent drop or wrong outcome)."""
        try:
            status, text = observe()
        except _Crash as crash:
            status, text = "FAILED", f"TRACEBACK: {crash}"
        except AssertionError as error:
            status, text = "FAILED", f"FAILED: {' '.join(str(error).split())[:300]}"
        if status != "FAILED" and status != expected:
            status, text = "FAILED", f"FAILED: expected {expected}, observed {status} ({text})"
        if status == "FAILED":
            self.failures.append(f"{case.row} x {command}: {text}")
        self.results[(case.key, command)] = (status, text)


class _Crash(Exception):
    pass


def _checked(run, allowed=(0, 1, 2)):
    if run.crash:
        raise _Crash(run.crash.strip().splitlines()[-1])
    assert run.code in allowed, f"exit code {run.code}; output: {run.text[-500:]}"
    return run


def _short(reason):
    """The reason without its details: 'truncated or corrupt image (image file is truncated)' -> first clause."""
    return re.split(r" \(|: |; ", reason, maxsplit=1)[0].strip()


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _bad_csv(path):
    assert Path(path).is_file(), f"no {Path(path).name} written"
    return {r["path"]: r["reason"] for r in _csv_rows(path)}


def _reason_of(case, reason, where):
    assert reason and re.search(case.reason, reason), f"{where}: reason {reason!r} does not match {case.reason!r}"
    return reason


# -- the commands ----------------------------------------------------------------------------------------
def _case_inputs(world, case, folder):
    """What each command reads for ``case``: file, manifests and folder, built in ``folder``."""
    held_out = world.eval_rows
    if case.kind == "file":
        file = world.files[case.key]
        eval_csv = _write_manifest(folder / "eval.csv", held_out + [
            _row(file["eval"], file["eval_label"], f"eval_{case.key}")])
        train_csv = _write_manifest(folder / "train.csv", world.synth_rows + [
            _row(file["train"], file["train_label"], f"train_{case.key}")])
        return {"bad": file["eval"], "eval_csv": eval_csv, "train_csv": train_csv,
                "direct": [file["eval"], held_out[0]["path"]]}
    if case.key == "missing":
        missing = folder / "missing x-ray.png"
        eval_csv = _write_manifest(folder / "eval.csv", held_out + [_row(missing, "Normal", "eval_missing")])
        train_csv = _write_manifest(folder / "train.csv", world.synth_rows + [_row(missing, "Normal", "gone")])
        return {"bad": missing, "eval_csv": eval_csv, "train_csv": train_csv, "direct": [eval_csv]}
    if case.key == "duplicates":
        eval_csv = _write_manifest(folder / "eval.csv", held_out + [dict(held_out[1], patient_id="again")])
        train_csv = _write_manifest(folder / "train.csv", world.synth_rows + [world.synth_rows[0]])
        return {"repeated": held_out[1]["path"], "train_repeated": world.synth_rows[0]["path"],
                "eval_csv": eval_csv, "train_csv": train_csv, "direct": [eval_csv]}
    if case.key == "bom":
        eval_csv = _write_manifest(folder / "eval.csv", held_out, bom=True)
        return {"eval_csv": eval_csv, "direct": [eval_csv]}
    if case.key == "other_classes":
        relabel = {"Viral Pneumonia": "Tuberculosis"}
        eval_csv = _write_manifest(folder / "eval.csv", [dict(r, label=relabel.get(r["label"], r["label"]))
                                                         for r in held_out])
        train_csv = _write_manifest(folder / "train.csv", [dict(r, label=relabel.get(r["label"], r["label"]))
                                                           for r in world.synth_rows])
        return {"eval_csv": eval_csv, "train_csv": train_csv, "direct": [eval_csv]}
    if case.key == "empty_class":
        data = folder / "class folders"
        for row in held_out:
            target = data / row["label"]
            target.mkdir(parents=True, exist_ok=True)
            if row["label"] != "Viral Pneumonia":
                shutil.copy(row["path"], target)
        return {"folder": data, "empty": data / "Viral Pneumonia", "eval_csv": data, "train_csv": data,
                "direct": [data]}
    raise AssertionError(case.key)


def _expected_paths(world, case, inputs):
    """The valid images a run over ``inputs["direct"]`` must process."""
    if case.kind == "file":
        return [str(p) for p in inputs["direct"][int(not case.valid):]]
    if case.key == "empty_class":
        return sorted(str(p) for p in inputs["folder"].rglob("*.png"))
    return [r["path"] for r in world.eval_rows]


def observe_check(cells, world, case, inputs, folder):
    run = _checked(cells.cli("data", "check", inputs["eval_csv"], "--out", folder / "check"))
    if case.kind == "file" and not case.valid or case.key == "missing":
        assert run.code == 1, f"exit {run.code}"
        reason = _bad_csv(folder / "check" / "bad_files.csv").get(str(inputs["bad"]))
        _reason_of(case, reason, "bad_files.csv")
        assert f"{inputs['bad']}: {reason}" in run.out, "the printed report does not name the file"
        assert "unreadable files: 1\n" in run.out
        return "reported", f"reported: {_short(reason)}"
    if case.key == "duplicates":
        assert run.code == 1 and "files listed on more than one manifest row: 1" in run.out, run.out[-400:]
        assert f"{inputs['repeated']}: lines 3, 6" in run.out, "the repeated rows are not named"
        return "reported", "reported: the file and its rows"
    assert run.code == 0, run.text[-400:]
    assert "unreadable files: 0" in run.out
    if case.key == "empty_class":
        assert f"class folder(s) without images: {inputs['empty'].name}" in run.out, run.out[-400:]
        return "warned", "processed; names the empty folder"
    return "processed", "processed"


def observe_train(cells, world, case, inputs, folder):
    bad_in_module = case.kind == "file" and not case.valid or case.key == "missing"
    if case.valid and case.kind == "file":  # trained on in the module's run
        path = world.files[case.key]["train"]
        assert str(path.resolve()) in world.train_run["split"] and str(path) not in world.train_run["bad"], \
            "not trained on"
        return "processed", "processed (trained on)"
    if case.key == "bom":  # the module's run reads a BOM manifest
        assert len(world.train_run["split"]) == world.train_run["rows"], "rows lost"
        return "processed", "processed (the training manifest has a BOM)"
    run = _checked(cells.cli("train", "--data", inputs["train_csv"], "--out", folder / "run", "--epochs", "1", *TINY))
    assert run.code == 2, f"exit {run.code}: {run.text[-400:]}"
    assert not (folder / "run" / "model.keras").exists()
    if bad_in_module:
        bad = str(world.files[case.key]["train"]) if case.kind == "file" else str(inputs["bad"])
        reason = _reason_of(case, _bad_csv(folder / "run" / "bad_files.csv").get(bad), "bad_files.csv")
        assert f"{bad}: {reason}" in run.err and "bad_files.csv" in run.err, "the error does not name the file"
        skipped = world.train_run["bad"]
        module_bad = str(world.files[case.key]["train"]) if case.kind == "file" else next(
            p for p in skipped if p.endswith("missing.png"))
        _reason_of(case, skipped.get(module_bad), "--skip-bad run's bad_files.csv")
        return "error", "error (exit 2) before the model is built: names it, the reason, bad_files.csv; " \
                        "--skip-bad: left out, listed"
    if case.key == "duplicates":
        assert inputs["train_repeated"] in run.err and "more than one row" in run.err, run.err[-400:]
        return "error", "error (exit 2): names the file and its rows"
    if case.key == "empty_class":
        assert str(inputs["empty"]) in run.err and "without images" in run.err, "the empty folder is not named"
        assert "'Viral Pneumonia'" in run.err, run.err[-400:]
        return "error", "error (exit 2) with the recipe's classes: names the empty folder and its class"
    if case.key == "other_classes":
        assert "do not match" in run.err and "Tuberculosis" in run.err and "Viral Pneumonia" in run.err, run.err[-400:]
        return "error", "error (exit 2): names both class sets and the fix"
    raise AssertionError(case.key)


def observe_evaluate(cells, world, case, inputs, folder, combined):
    if case.kind == "file" and case.valid or case.key == "bom":  # scored in the combined --skip-bad evaluation
        scored = combined["scored"]
        wanted = [str(world.files[case.key]["eval"])] if case.kind == "file" else [r["path"] for r in world.eval_rows]
        assert all(scored.get(p) for p in wanted), "not in predictions.csv"
        return "processed", "processed" + (" (the evaluated manifest has a BOM)" if case.key == "bom" else "")
    run = _checked(cells.cli("evaluate", "--model", world.run, "--data", inputs["eval_csv"], "--all-images",
                             "--bootstrap", "20", "--out", folder / "eval"))
    if case.kind == "file" or case.key == "missing":
        assert run.code == 2, f"exit {run.code}: {run.text[-400:]}"
        bad = str(inputs["bad"])
        reason = _reason_of(case, _bad_csv(folder / "eval" / "bad_files.csv").get(bad), "bad_files.csv")
        assert f"{bad}: {reason}" in run.err and "bad_files.csv" in run.err, "the error does not name the file"
        assert not (folder / "eval" / "metrics.json").exists()
        _reason_of(case, combined["skipped"].get(bad if case.kind == "file" else combined["missing"]),
                   "--skip-bad metrics.json")
        return "error", "error (exit 2) before scoring: names it, the reason, bad_files.csv; " \
                        "--skip-bad: left out, listed in metrics.json, report.md"
    if case.key == "duplicates":
        assert run.code == 2 and inputs["repeated"] in run.err and "lines 3, 6" in run.err, run.text[-400:]
        return "error", "error (exit 2): names the file and its rows"
    if case.key == "other_classes":
        assert run.code == 2 and "Tuberculosis" in run.err and "--class-map" in run.err, run.text[-400:]
        return "error", "error (exit 2): names both class sets and --class-map"
    if case.key == "empty_class":
        assert run.code == 0, run.text[-600:]
        assert str(inputs["empty"]) in run.err, "the empty folder is not named"
        scored = {r["path"] for r in _csv_rows(folder / "eval" / "predictions.csv")}
        assert scored == set(_expected_paths(world, case, inputs)), "images missing from predictions.csv"
        return "warned", "processed; warns naming the empty folder"
    raise AssertionError(case.key)


def observe_predict(cells, world, case, inputs, folder, model, tag):
    out = folder / f"predict_{tag}.csv"
    run = _checked(cells.cli("predict", "--model", model, "--out", out, *inputs["direct"]))
    if case.key == "duplicates":
        assert run.code == 2 and inputs["repeated"] in run.err and "lines 3, 6" in run.err, run.text[-400:]
        return "error", "error (exit 2): names the file and its rows"
    rows = {r["path"]: r for r in _csv_rows(out)}
    for path in _expected_paths(world, case, inputs):
        assert rows.get(path) and rows[path]["predicted"] and not rows[path]["error"], f"{path} not predicted"
    if case.kind == "file" and not case.valid or case.key == "missing":
        assert run.code == 1, f"exit {run.code}"
        row = rows.get(str(inputs["bad"]))
        assert row is not None, "the bad file has no row in the CSV (silent drop)"
        reason = _reason_of(case, row["error"], "the CSV's error column")
        assert not row["predicted"]
        return "reported", f"reported: {_short(reason)}"
    assert run.code == 0 and all(not r["error"] for r in rows.values()), run.text[-400:]
    return "processed", "processed"


def observe_explain(cells, world, case, inputs, folder):
    out = folder / "explain"
    run = _checked(cells.cli("explain", "--model", world.run, "--out", out, *inputs["direct"]))
    if case.key == "duplicates":
        assert run.code == 2 and inputs["repeated"] in run.err and "lines 3, 6" in run.err, run.text[-400:]
        return "error", "error (exit 2): names the file and its rows"
    summary = json.loads((out / "summary.json").read_text())
    explained = {r["path"] for r in summary["explanations"]}
    assert set(_expected_paths(world, case, inputs)) <= explained, "valid images not explained"
    if case.kind == "file" and not case.valid or case.key == "missing":
        assert run.code == 1, f"exit {run.code}"
        errors = {e["path"]: e["error"] for e in summary["errors"]}
        reason = _reason_of(case, errors.get(str(inputs["bad"])), "summary.json errors")
        assert f"skipped {inputs['bad']}: {reason}" in run.out, "not named on stdout"
        return "reported", f"reported: {_short(reason)}"
    assert run.code == 0 and not summary["errors"], run.text[-400:]
    return "processed", "processed"


def _combined_evaluation(cells, world):
    """One ``evaluate --skip-bad`` over the held-out images and the evaluation variant of every file input."""
    rows = list(world.eval_rows)
    rows += [_row(f["eval"], f["eval_label"], f"eval_{key}") for key, f in world.files.items()]
    missing = world.root / "inputs" / "eval" / "missing.png"
    rows.append(_row(missing, "Normal", "eval_missing"))
    data = _write_manifest(world.root / "combined" / "every input.csv", rows, bom=True)
    out = world.root / "combined" / "eval"
    run = cells.cli("evaluate", "--model", world.run, "--data", data, "--all-images", "--skip-bad",
                    "--bootstrap", "0", "--out", out)
    assert run.code == 0 and not run.crash, run.text[-3000:] + run.crash
    metrics = json.loads((out / "metrics.json").read_text())
    skipped = {s["path"]: s["reason"] for s in metrics["skipped_files"]}
    report = (out / "report.md").read_text()
    assert all(path in report for path in skipped), "report.md does not list the skipped files"
    assert skipped == _bad_csv(out / "bad_files.csv")
    scored = {r["path"]: r["predicted_label"] for r in _csv_rows(out / "predictions.csv")}
    assert metrics["num_images"] == len(scored) == len(rows) - len(skipped)
    return {"scored": scored, "skipped": skipped, "missing": str(missing)}


# -- the document ------------------------------------------------------------------------------------------
def _write_doc(results):
    statuses = [status for status, _ in results.values()]
    counts = {name: statuses.count(name) for name in ("processed", "warned", "reported", "error", "FAILED")}
    lines = [
        "# Reliability: bad inputs through every command",
        "",
        "Generated by `python -m pytest tests/test_bad_inputs.py` from what each command did; do not edit by "
        "hand. Each input sits in a small dataset beside valid synthetic X-rays and is run through the command "
        "line (`keras-cxr ...`); a cell passes when the command ends with exit code 0, 1 or 2 (never a "
        "traceback), names a bad file with its reason where it reports (output, `bad_files.csv`, the "
        "predictions CSV, `summary.json`, `metrics.json`), processes the valid files of the same run, and "
        "processes valid inputs rather than reporting them.",
        "",
        f"**{len(results)} cells: {counts['processed']} processed, {counts['warned']} processed with a warning, "
        f"{counts['reported']} reported (the file named with its reason, the rest processed), "
        f"{counts['error']} errors (exit 2, naming the problem), {counts['FAILED']} failed.**",
        "",
        "| input | " + " | ".join(COMMANDS) + " |",
        "|---|" + "---|" * len(COMMANDS),
    ]
    for case in INPUTS:
        cells = [results.get((case.key, c), ("", "not run"))[1] for c in COMMANDS]
        lines.append(f"| {case.row} | " + " | ".join(cell.replace("|", "/") for cell in cells) + " |")
    lines += [
        "",
        "## What a user gets, and why",
        "",
        "- **Unreadable files** (empty, truncated, not an image, DICOM without pixels or with a compression no "
        "installed plugin decodes, over the decompression-bomb limit): `data check`, `predict` and `explain` "
        "name each with its reason and go on with the rest (exit 1). `train` and `evaluate` stop before the "
        "model is built or the first image is scored (exit 2), naming every bad file and the `bad_files.csv` "
        "written into their output folder: a training set or a test set that silently shrinks is not the one "
        "the user meant. With `--skip-bad` (train: `data.skip_bad=true`) they leave the files out, list them "
        "(`bad_files.csv`; `evaluate`: also `metrics.json` `skipped_files` and `report.md`) and run on the rest.",
        "- **Valid but unusual files** (16-bit, RGBA, palette, CMYK, DICOM MONOCHROME1, unicode and spaces in "
        "paths, a manifest saved with a byte-order mark by Excel) are processed, and decode to the pixels of "
        "the 8-bit PNG of the same image (within one grey level; CMYK JPEG within six, JPEG being lossy).",
        "- **A 1x1 image** decodes but holds no radiograph: stretched to the model's input it is a flat grey "
        "image that would be scored, or trained on, as an X-ray. Images with a side under 8 pixels are "
        "refused with their size (28 px thumbnails still pass).",
        "- **Over the decompression-bomb limit**: the size is checked from the header before any pixel is "
        "decoded (nothing is allocated); Pillow only warns between one and two times `PIL.Image."
        "MAX_IMAGE_PIXELS`, keras_cxr refuses both. Raise the limit for a genuine giant image.",
        "- **A manifest listing a file twice** is an error naming the file and its CSV lines in every command "
        "that reads the manifest: a repeated image counts twice in the metrics and can land in train and "
        "test at once. `data check` reports the rows instead of stopping (exit 1).",
        "- **An empty class folder** is warned about by name and left out of the classes; with a recipe that "
        "fixes its classes (every paper config) `train` stops naming the class that has no images.",
        "- **A class set other than the model's**: `evaluate` stops naming both sets (map labels with "
        "`--class-map`); `train` with a recipe's classes stops naming both sets and the overrides that train "
        "on the data's own classes; `predict` and `explain` do not read labels.",
        "",
        "`train` cells of valid inputs come from one run over a manifest (with a byte-order mark) holding every "
        "input, trained with `--skip-bad`; `evaluate` cells of valid inputs from one `evaluate --skip-bad` over "
        "every input; the other cells are one command each.",
        "",
    ]
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, DOC)
    return counts


# -- the test ----------------------------------------------------------------------------------------------
def _memoised_loader(monkeypatch):
    """Read each model file once: loading is the same for every input, the cells are not."""
    import keras_cxr.models.loading as loading

    real, loaded = loading.load_classifier, {}

    def load_classifier(path, classes=None):
        key = (str(Path(path).resolve()), tuple(classes or ()))
        if key not in loaded:
            loaded[key] = real(path, classes)
        return loaded[key]

    monkeypatch.setattr(loading, "load_classifier", load_classifier)


def test_every_bad_input_through_every_command(world, tmp_path, capsys, monkeypatch):
    _memoised_loader(monkeypatch)
    converter = ImageConverter(32)
    for case in INPUTS:  # valid files are read correctly, not merely without an error
        if case.kind == "file" and case.valid:
            for variant in ("train", "eval"):
                file = world.files[case.key]
                reference = converter.convert_array(np.round(file[f"{variant}_image"] * 255) / 255)
                difference = np.abs(converter(file[variant]).astype(int) - reference.astype(int)).max()
                assert difference <= case.tolerance, f"{case.row}: {difference} grey levels off"

    with Cells(capsys) as cells:
        counts, timings = _run_matrix(cells, world, tmp_path)
    print("seconds:", {k: round(v, 1) for k, v in timings.items()}, "cells:", counts)
    assert not cells.failures, "\n".join(cells.failures)


def _run_matrix(cells, world, tmp_path):
    timings = dict(world.seconds)
    start = time.perf_counter()
    combined = _combined_evaluation(cells, world)
    timings["evaluate --skip-bad (once)"] = time.perf_counter() - start
    for case in INPUTS:
        folder = tmp_path / case.key
        folder.mkdir()
        inputs = _case_inputs(world, case, folder)
        if case.kind == "file":
            expected = dict.fromkeys(COMMANDS, "processed" if case.valid else "reported")
            if not case.valid:
                expected.update({"train": "error", "evaluate": "error"})
        else:
            expected = {
                "missing": dict.fromkeys(COMMANDS, "reported") | {"train": "error", "evaluate": "error"},
                "duplicates": dict.fromkeys(COMMANDS, "error") | {"data check": "reported"},
                "bom": dict.fromkeys(COMMANDS, "processed"),
                "empty_class": dict.fromkeys(COMMANDS, "processed") | {"data check": "warned", "train": "error",
                                                                      "evaluate": "warned"},
                "other_classes": dict.fromkeys(COMMANDS, "processed") | {"train": "error", "evaluate": "error"},
            }[case.key]
        observers = {
            "data check": lambda: observe_check(cells, world, case, inputs, folder),
            "train": lambda: observe_train(cells, world, case, inputs, folder),
            "evaluate": lambda: observe_evaluate(cells, world, case, inputs, folder, combined),
            "predict (Keras run)": lambda: observe_predict(cells, world, case, inputs, folder, world.run, "keras"),
            "predict (.tflite)": lambda: observe_predict(cells, world, case, inputs, folder, world.tflite, "tflite"),
            "explain": lambda: observe_explain(cells, world, case, inputs, folder),
        }
        for command in COMMANDS:
            begin = time.perf_counter()
            cells.record(case, command, expected[command], observers[command])
            timings[command] = timings.get(command, 0.0) + time.perf_counter() - begin
    return _write_doc(cells.results), timings
