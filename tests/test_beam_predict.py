"""``keras-cxr predict --runner beam``: the DirectRunner scores as ``predict`` does and loses no file.

Skipped where Apache Beam is not installed (it is the optional ``beam`` extra, not a dev dependency).
"""

import csv
import glob
import importlib.util
import json
import shutil

import numpy as np
import pytest

from keras_cxr.cli import main

needs_beam = pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None,
                                reason="apache-beam is not installed (pip install keras-cxr[beam])")
COVERAGE = "0.9"


@pytest.fixture(scope="module")
def sensitive_run(tmp_path_factory):
    """A 32 px resnet18 whose head is scaled so no probability saturates or ties: any changed pixel shows.

    (At 40x an upside-down image scores within 2e-7 of the upright one; at 3x, 3e-3 or more apart.)
    """
    from keras_cxr.testing import save_scaled_resnet18

    return save_scaled_resnet18(tmp_path_factory.mktemp("decisive"), head_scale=3.0)


@pytest.fixture(scope="module")
def xrays(tmp_path_factory):
    """50 files in one folder: 44 synthetic PNGs, 2 DICOMs, and 4 bad files, returned as (folder, bad names)."""
    from keras_cxr.data import generate_dataset
    from keras_cxr.testing import write_dicom, write_dicom_without_pixels

    root = tmp_path_factory.mktemp("beam")
    folder = root / "xrays"
    folder.mkdir()
    generated = generate_dataset(root / "synthetic", per_class=11, size=48, seed=5)
    pngs = sorted((root / "synthetic" / "images").rglob("*.png"))
    for path in pngs:
        shutil.copy(path, folder / f"{path.parent.name}_{path.name}")
    assert len(generated.records) == len(pngs) == 44
    rng = np.random.default_rng(0)
    for index in range(2):
        write_dicom(folder / f"scan_{index}.dcm", rng.integers(0, 4096, (64, 64)))
    (folder / "truncated.png").write_bytes(pngs[0].read_bytes()[:120])
    (folder / "notes.png").write_text("not an image, only text named .png\n")
    (folder / "empty.png").write_bytes(b"")
    write_dicom_without_pixels(folder / "header_only.dcm")
    return folder, {"truncated.png", "notes.png", "empty.png", "header_only.dcm"}


def _read_csv(pattern):
    """Rows of every shard matching ``pattern``, each shard's header checked equal."""
    rows, headers = [], set()
    for shard in sorted(glob.glob(pattern)):
        with open(shard, newline="") as handle:
            reader = csv.reader(handle)
            headers.add(tuple(next(reader)))
            rows.extend(reader)
    assert len(headers) == 1, headers
    return list(headers.pop()), rows


@needs_beam
def _compare(local_csv, prefix, extra_columns=0):
    """Beam's rows against ``predict``'s: the same 50 paths, probabilities within 1e-5, the same other cells."""
    local_header, local_rows = _read_csv(str(local_csv))
    header, rows = _read_csv(f"{prefix}-[0-9]*-of-*.csv")
    assert header == local_header and header[-1] == "error"
    beam_rows, local_rows = {r[0]: r for r in rows}, {r[0]: r for r in local_rows}
    assert len(rows) == len(beam_rows) == len(local_rows) and beam_rows.keys() == local_rows.keys()
    probs = slice(1, len(header) - 2 - extra_columns)
    for path, local in local_rows.items():
        row = beam_rows[path]
        if local[-1]:  # unreadable: the same reason, no probabilities
            assert row[1:] == local[1:], path
            continue
        np.testing.assert_allclose(np.float64(row[probs]), np.float64(local[probs]), atol=1e-5, err_msg=path)
        assert row[probs.stop:] == local[probs.stop:], path  # predicted class, [conformal set,] empty error
    return local_rows


@needs_beam
def test_direct_runner_scores_as_predict_and_dead_letters_bad_files(sensitive_run, xrays, tmp_path, capsys):
    folder, bad = xrays
    assert main(["predict", "--model", str(sensitive_run), "--out", str(tmp_path / "local.csv"), str(folder)]) == 1
    prefix = tmp_path / "beam" / "preds"
    assert main(["predict", "--runner", "beam", "--model", str(sensitive_run), "--input", str(folder / "*"),
                 "--output", str(prefix), "--batch-size", "8", "--min-batch-size", "2",
                 "--beam-options", "--runner=DirectRunner"]) == 1
    assert "Scored 46 of 50 file(s)" in capsys.readouterr().out
    local_rows = _compare(tmp_path / "local.csv", prefix)
    top = [max(map(float, r[1:5])) for r in local_rows.values() if not r[-1]]
    assert len(local_rows) == 50 and 0.3 < min(top) and max(top) < 0.9  # unsaturated: 1e-5 is a sharp test
    _, dead = _read_csv(f"{prefix}_errors-[0-9]*-of-*.csv")
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in dead) == sorted(bad)
    assert {p: reason for p, reason in dead} == {p: r[-1] for p, r in local_rows.items() if r[-1]}
    assert all(reason for _, reason in dead)


@needs_beam
def test_calibrated_probabilities_and_conformal_sets_as_predict(calibrated_run, xrays, tmp_path):
    folder, _ = xrays
    run, prefix = str(calibrated_run / "run"), tmp_path / "preds"
    pattern = str(folder / "*_synth_*_000[0-2]_*.png")
    local = sorted(str(p) for p in folder.glob("*_synth_*_000[0-2]_*.png"))
    assert main(["predict", "--model", run, "--out", str(tmp_path / "local.csv"), "--conformal", COVERAGE,
                 *local]) == 0
    assert main(["predict", "--runner", "beam", "--model", run, "--input", pattern, "--output", str(prefix),
                 "--conformal", COVERAGE]) == 0
    assert len(_compare(tmp_path / "local.csv", prefix, extra_columns=1)) == len(local) > 10


@needs_beam
def test_beam_json_lines_and_refusals(sensitive_run, xrays, tmp_path, capsys):
    folder, _ = xrays
    run, prefix = str(sensitive_run), str(tmp_path / "preds")
    beam = ["predict", "--runner", "beam", "--model", run, "--output", prefix]
    assert main([*beam, "--input", str(folder / "scan_*.dcm"), "--output-format", "jsonl"]) == 0
    records = [json.loads(line) for shard in glob.glob(f"{prefix}-[0-9]*-of-*.jsonl") for line in open(shard)]
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in records) == ["scan_0.dcm", "scan_1.dcm"]
    assert all(set(r) == {"path", "predicted", "probabilities"} for r in records)
    capsys.readouterr()
    assert main([*beam, "--input", str(folder / "scan_*.dcm"), "--output-format", "jsonl"]) == 2
    assert "--overwrite" in capsys.readouterr().err  # old shards are never mixed with a new run's
    assert main([*beam, "--input", str(folder / "*.jpeg")]) == 2
    assert "matches no files" in capsys.readouterr().err
    assert main([*beam, "--input", str(folder / "*"), str(folder)]) == 2
    assert "drop inputs" in capsys.readouterr().err
    assert main(["predict", "--model", run, "--output", prefix, str(folder)]) == 2
    assert "only apply with --runner beam" in capsys.readouterr().err


def test_missing_beam_names_the_extra(monkeypatch, tmp_path, capsys):
    import keras_cxr.predict.beam as beam_module

    monkeypatch.setattr(beam_module, "beam", None)
    assert main(["predict", "--runner", "beam", "--model", str(tmp_path / "run"), "--input", "x/*",
                 "--output", str(tmp_path / "p")]) == 2
    assert "pip install 'keras-cxr[beam]'" in capsys.readouterr().err


@needs_beam
def test_a_batch_the_model_fails_on_goes_to_the_dead_letters(sensitive_run, xrays, tmp_path, monkeypatch):
    import keras_cxr.predict.beam as beam_module
    from keras_cxr.predict.runner import score_images

    def failing(predictor, images, paths, conformal=None):
        if any(str(p).endswith("scan_0.dcm") for p in paths):
            raise RuntimeError("out of memory")
        return score_images(predictor, images, paths, conformal)

    monkeypatch.setattr(beam_module, "score_images", failing)  # the in-memory DirectRunner runs in this process
    folder, _ = xrays
    summary = beam_module.run_beam_predictions(sensitive_run, str(folder / "scan_*.dcm"), str(tmp_path / "p"),
                                               batch_size=1)
    assert (summary["matched"], summary["scored"], summary["errors"], summary["missing"]) == (2, 1, 1, 0)
    _, dead = _read_csv(summary["errors_output"])
    assert [(p.rsplit("/", 1)[-1], reason) for p, reason in dead] == [
        ("scan_0.dcm", "model call failed: RuntimeError('out of memory')")]
