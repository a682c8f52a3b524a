"""``report.html`` and ``keras-cxr serve`` in a real headless Chromium (Debian's chromium + chromium-driver).

Marked ``browser``: the default suite leaves them out (``-m 'not slow and not browser'``), ``.ci/run``
installs Chromium and runs ``pytest -m browser``, and there a skip fails the run. Locally:
``apt-get install chromium chromium-driver && python -m pytest -m browser``.
"""

import csv
import json

import numpy as np
import pytest

from keras_cxr.cli import main
from keras_cxr.testing.browser import browser_missing, serve_command, start_chromium

pytestmark = pytest.mark.browser

IMAGES_LOADED = "return Array.from(document.querySelectorAll(arguments[0])).map(i => i.complete ? i.naturalWidth : -1)"


@pytest.fixture(scope="module")
def chromium():
    missing = browser_missing()
    if missing:
        pytest.skip(f"no browser: {missing}")
    driver = start_chromium()
    yield driver
    driver.quit()


def _console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _visible(driver, selector, attribute):
    """``attribute`` of every element matching ``selector`` that is displayed."""
    return [e.get_attribute(attribute) for e in driver.find_elements("css selector", selector) if e.is_displayed()]


@pytest.fixture(scope="module")
def scaled_run(tmp_path_factory):
    """A 32 px resnet18 whose probabilities move with every pixel, calibrated on synthetic data with two sites.

    Untrained on purpose (no training time): what is tested is that the page shows the numbers the
    library computes, which needs a model whose output depends on its input, not a good model.
    """
    from keras_cxr.data import generate_dataset, split_manifest
    from keras_cxr.testing import save_scaled_resnet18

    root = tmp_path_factory.mktemp("browser")
    manifest = split_manifest(generate_dataset(root / "data", per_class=6, size=48, seed=5), val=0.4, test=0.4,
                              seed=0)
    for record in manifest.records:  # two sites by patient, so the group filter has something to filter
        record["site"] = "A" if sum(map(ord, record["patient_id"])) % 2 else "B"
    manifest.write(root / "sites.csv")
    (root / "run").mkdir()
    save_scaled_resnet18(root / "run", head_scale=3)
    assert main(["calibrate", str(root / "run"), "--data", str(root / "sites.csv")]) == 0
    return root


@pytest.fixture(scope="module")
def evaluated(scaled_run):
    """The run evaluated on the test split by site, report.html included; (folder, predictions.csv rows)."""
    out = scaled_run / "eval"
    assert main(["evaluate", "--model", str(scaled_run / "run"), "--data", str(scaled_run / "sites.csv"),
                 "--out", str(out), "--group-by", "site", "--bootstrap", "50"]) == 0
    with open(out / "predictions.csv", newline="") as handle:
        predictions = list(csv.DictReader(handle))
    return out, predictions


def test_report_html_renders_its_figures_and_the_browser_filters(chromium, evaluated):
    folder, predictions = evaluated
    chromium.get((folder / "report.html").as_uri())
    figures = chromium.execute_script(IMAGES_LOADED, "article.report img")
    assert len(figures) >= 4 and all(width > 0 for width in figures), figures  # confusion, ROC, reliability, by site
    metrics = json.loads((folder / "metrics.json").read_text())
    tiles = chromium.find_element("id", "headline").text
    assert f"{100 * metrics['accuracy']:.1f}%" in tiles

    assert len(_visible(chromium, "#browser-grid .thumb", "data-true")) == len(predictions)
    assert all(width > 0 for width in chromium.execute_script(IMAGES_LOADED, "#browser-grid .thumb img"))
    wrong = [p for p in predictions if p["true_label"] != p["predicted_label"]]
    first = chromium.find_elements("css selector", "#browser-grid .thumb")[0]
    assert ("wrong" in first.get_attribute("class")) == bool(wrong)  # misclassified first

    from selenium.webdriver.support.ui import Select

    for name in sorted({p["predicted_label"] for p in predictions}):
        Select(chromium.find_element("id", "filter-predicted")).select_by_visible_text(name)
        shown = _visible(chromium, "#browser-grid .thumb", "data-predicted")
        assert shown == [name] * sum(p["predicted_label"] == name for p in predictions)
    Select(chromium.find_element("id", "filter-predicted")).select_by_index(0)
    chromium.find_element("id", "filter-wrong").click()
    assert len(_visible(chromium, "#browser-grid .thumb", "data-true")) == len(wrong)
    chromium.find_element("id", "filter-wrong").click()
    Select(chromium.find_element("id", "filter-group")).select_by_visible_text("A")
    assert len(_visible(chromium, "#browser-grid .thumb", "data-true")) == sum(p["site"] == "A" for p in predictions)
    Select(chromium.find_element("id", "filter-group")).select_by_index(0)

    chromium.find_elements("css selector", "#browser-grid .thumb")[0].click()
    assert chromium.find_element("id", "browser-modal").is_displayed()
    assert chromium.execute_script(IMAGES_LOADED, "#modal-overlay")[0] > 0  # the Grad-CAM overlay
    assert chromium.find_element("id", "modal-bars").text.count("%") == len(metrics["classes"])
    assert not _console_errors(chromium)


def _upload_files(folder):
    """Two synthetic X-rays (PNG, DICOM) and a file that is not an image."""
    from keras_cxr.data import generate_dataset
    from keras_cxr.data.decode import read_image
    from keras_cxr.testing import write_dicom

    manifest = generate_dataset(folder / "data", per_class=1, size=64, seed=11)
    png = manifest.resolve(manifest.records[0])
    dicom = folder / "chest.dcm"
    write_dicom(dicom, np.round(read_image(manifest.resolve(manifest.records[1])) * 4095).astype(np.uint16))
    bad = folder / "notes.png"
    bad.write_text("not an X-ray")
    return [png, dicom], bad


def test_serve_page_shows_predict_probabilities_and_names_the_bad_file(chromium, scaled_run, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait

    from keras_cxr.predict import predict_paths

    run = scaled_run / "run"
    good, bad = _upload_files(tmp_path)
    # One image per model call, as the page sends them: then the numbers are equal to the last bit (in larger
    # batches oneDNN may sum in another order, which moves probabilities by ~1e-8).
    assert main(["predict", "--model", str(run), *map(str, good), "--out", str(tmp_path / "predicted.csv"),
                 "--conformal", "0.95", "--batch-size", "1"]) == 0
    with open(tmp_path / "predicted.csv", newline="") as handle:
        expected = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(handle)}
    records = {r["path"].rsplit("/", 1)[-1]: r for r in predict_paths(run, good, batch_size=1, conformal=0.95)}

    with serve_command(run) as url:
        chromium.get(url)
        assert "calibrated: temperature" in chromium.find_element("id", "model").text
        chromium.find_element("id", "files").send_keys("\n".join(str(p) for p in [*good, bad]))
        WebDriverWait(chromium, 120).until(lambda d: d.execute_script("return document.body.dataset.done") == "3")
        for path in good:
            card = chromium.find_element("css selector", f'.result[data-file="{path.name}"]')
            shown = {bar.get_attribute("data-class"): float(bar.get_attribute("data-probability"))
                     for bar in card.find_elements("css selector", ".bar")}
            assert shown == records[path.name]["probabilities"]
            assert shown == {c: float(expected[path.name][f"prob_{c}"]) for c in shown}  # keras-cxr predict's CSV
            assert "{" + ", ".join(records[path.name]["set"]) + "}" in card.find_element("css selector", ".summary").text
            widths = {cls: chromium.execute_script(IMAGES_LOADED, f'.result[data-file="{path.name}"] img.{cls}')[0]
                      for cls in ("original", "gradcam", "model-input")}
            assert widths["model-input"] == 32 and widths["original"] > 0 and widths["gradcam"] > 0, widths
        error = chromium.find_element("css selector", f'.result.error[data-file="{bad.name}"]').text
        assert bad.name in error and "not an image" in error
        chromium.find_element("css selector", "#card summary").click()
        assert "Intended use" in chromium.find_element("id", "card").text
        assert chromium.find_element("id", "progress-text").text == "3 of 3 done"
        assert not [e for e in _console_errors(chromium) if "api/predict" not in e["message"]]  # the 422 is logged
