"""report.html pieces: the image browser's order and items, and the self-contained page around a Markdown report."""

import base64
import io
import json
import re

import numpy as np
import pytest

from keras_cxr.pages.image_browser import THUMB_PX, browser_items, browser_order
from keras_cxr.pages.render import markdown_html
from keras_cxr.pages.report_page import write_report_page
from keras_cxr.testing import write_png

# y_true, probabilities: 1 and 3 are misclassified (confidence .6 and .8), 0, 2 and 4 correct (.9, .5, .7).
Y_TRUE = [0, 1, 2, 0, 1]
PROBS = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.3, 0.2, 0.5], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])


def _decode(uri, kind):
    """A ``data:image/<kind>;base64,`` URI's picture as a uint8 array."""
    from PIL import Image

    prefix = f"data:image/{kind};base64,"
    assert uri.startswith(prefix), uri[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))))


# -- browser_order -------------------------------------------------------------------------------------------

def test_browser_order_puts_confident_mistakes_first_then_hesitant_correct_ones():
    assert browser_order(Y_TRUE, PROBS).tolist() == [3, 1, 2, 4, 0]


def test_browser_order_limit():
    for limit, expected in [(0, []), (1, [3]), (3, [3, 1, 2]), (5, [3, 1, 2, 4, 0]), (50, [3, 1, 2, 4, 0]),
                            (-1, [3, 1, 2, 4, 0]), (None, [3, 1, 2, 4, 0])]:
        order = browser_order(Y_TRUE, PROBS, limit)
        assert order.tolist() == expected, limit
        assert order.dtype.kind == "i"  # indices, also when empty


def test_browser_order_keeps_file_order_among_equal_confidences():
    probs = np.array([[0.6, 0.4]] * 4)
    assert browser_order([1, 0, 1, 0], probs).tolist() == [0, 2, 1, 3]


# -- write_report_page ---------------------------------------------------------------------------------------

NOTE = 'overlap in <script>alert("note")</script> & more'
TITLE = "Evaluation of <b>net</b>"


@pytest.fixture()
def report_dir(tmp_path):
    """A report.md with a title, a figure beside it (and one in a subfolder), a CSV link and later headings."""
    write_png(tmp_path / "roc.png", np.linspace(0, 1, 12 * 16).reshape(12, 16))
    (tmp_path / "figures").mkdir()
    write_png(tmp_path / "figures" / "confusion.png", np.eye(8))
    (tmp_path / "scores.csv").write_text("path,score\na.png,0.5\n")
    (tmp_path / "report.md").write_text(
        "# Evaluation of net\n\nAccuracy 90%.\n\n![ROC curve](roc.png)\n\n![confusion](figures/confusion.png)\n\n"
        "Per-image scores: [scores.csv](scores.csv)\n\n## Per class\n\n| class | recall |\n|---|---|\n| a | 0.9 |\n\n"
        "# Appendix\n\nData.\n")
    (tmp_path / "card.md").write_text("# Model card\n\nIntended use: research.\n\n![ROC again](roc.png)\n")
    return tmp_path


def _article(html):
    return re.search(r'<article class="report">(.*?)</article>', html, re.S).group(1)


def test_report_page_embeds_figures_and_keeps_links_relative(report_dir):
    path = write_report_page(report_dir / "report.md", "Evaluation of net")
    assert path == report_dir / "report.html"
    html = path.read_text()
    roc = "data:image/png;base64," + base64.b64encode((report_dir / "roc.png").read_bytes()).decode("ascii")
    assert f'src="{roc}"' in html
    confusion = (report_dir / "figures" / "confusion.png").read_bytes()
    assert f'src="data:image/png;base64,{base64.b64encode(confusion).decode("ascii")}"' in html
    assert 'src="roc.png"' not in html and 'src="figures/confusion.png"' not in html
    assert 'href="scores.csv"' in html
    assert "<table>" in html  # the Markdown tables extension


def test_report_page_needs_no_network(report_dir):
    html = write_report_page(report_dir / "report.md", "Evaluation of net", headline=[
        {"label": "accuracy", "value": "90.0%", "detail": "95% CI 80.0% – 95.0%"}],
        appendix=[("Model card", report_dir / "card.md")]).read_text()
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//|@import""", html, re.I)
    assert not re.search(r'<link\b(?![^>]*href="data:)', html) and "<script src" not in html  # favicon: data:


def test_report_title_is_shown_once_as_the_page_heading(report_dir):
    html = write_report_page(report_dir / "report.md", "Evaluation of net").read_text()
    assert html.count("<h1>Evaluation of net</h1>") == 1  # the page's header
    article = _article(html)
    assert "Evaluation of net" not in article
    assert article.lstrip().startswith("<p>Accuracy 90%.</p>")
    assert "<h2>Per class</h2>" in article and "<h1>Appendix</h1>" in article  # only the leading title goes


def test_report_page_escapes_titles_notes_and_tiles(report_dir):
    html = write_report_page(report_dir / "report.md", TITLE, notes=[NOTE],
                             headline=[{"label": "<i>images</i>", "value": "<u>8</u>", "detail": "<em>x</em>"}]
                             ).read_text()
    assert "<script>alert" not in html and "<b>net</b>" not in html
    assert "&lt;script&gt;alert(&#34;note&#34;)&lt;/script&gt; &amp; more" in html
    assert "<title>Evaluation of &lt;b&gt;net&lt;/b&gt;</title>" in html
    assert "<h1>Evaluation of &lt;b&gt;net&lt;/b&gt;</h1>" in html
    for raw in ("<i>images</i>", "<u>8</u>", "<em>x</em>"):
        assert raw not in html
    assert "&lt;u&gt;8&lt;/u&gt;" in html


def test_report_page_appendix_and_out_path(report_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("elsewhere") / "page.html"
    path = write_report_page(report_dir / "report.md", "Evaluation of net", out_path=out,
                             appendix=[("Model card", report_dir / "card.md"), ("Missing", report_dir / "none.md")])
    assert path == out and not (report_dir / "report.html").exists()
    html = out.read_text()
    assert html.count('<details class="appendix">') == 1
    assert "<strong>Model card</strong>" in html and "Intended use: research." in html
    assert "Missing" not in html
    assert html.count('alt="ROC again" src="data:image/png;base64,') == 1  # the card's figure, resolved beside it


def test_browser_data_cannot_close_its_script_element(report_dir):
    """A file name is data: in the page's JSON it must not end the <script> that holds it."""
    evil = "</script><script>alert(1)</script>.png"
    browser = {"items": [{"index": 0, "name": evil, "path": evil, "true": "a", "predicted": "b", "confidence": 0.6,
                          "correct": False, "group": None, "probabilities": {"a": 0.4, "b": 0.6},
                          "thumbnail": "data:image/jpeg;base64,", "overlay": None, "image": "data:image/jpeg;base64,"}],
               "shown": 1, "total": 3, "misclassified": 1, "classes": ["a", "b"], "groups": [], "gradcam_note": None}
    html = write_report_page(report_dir / "report.md", "Evaluation of net", browser=browser).read_text()
    assert "alert(1)" in html and "<script>alert(1)" not in html
    data = re.search(r'<script type="application/json" id="browser-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(data)["items"][0]["name"] == evil
    assert "1 of 3 images, the 1 misclassified first" in html


# -- browser_items on a real (untrained, 32 px) network ------------------------------------------------------

@pytest.fixture(scope="module")
def loaded_and_images(tmp_path_factory):
    """A saved 32 px resnet18, loaded, and 8 synthetic 48 px X-rays (2 per class)."""
    from keras_cxr.data import generate_dataset
    from keras_cxr.models.loading import load_classifier
    from keras_cxr.testing import save_scaled_resnet18

    root = save_scaled_resnet18(tmp_path_factory.mktemp("browser"), head_scale=3.0)
    generate_dataset(root / "data", per_class=2, size=48, seed=0)
    paths = [str(p) for p in sorted((root / "data" / "images").rglob("*.png"))]
    return load_classifier(root), paths


@pytest.fixture(scope="module")
def scored(loaded_and_images):
    """Labels and made-up probabilities (not the model's: the browser must show what it is given)."""
    _, paths = loaded_and_images
    rng = np.random.default_rng(4)
    return rng.integers(0, 4, len(paths)), rng.dirichlet(np.ones(4), len(paths))


def test_browser_items_with_gradcam(loaded_and_images, scored):
    loaded, paths = loaded_and_images
    y_true, probs = scored
    groups = ["site A" if i % 2 else "site B" for i in range(len(paths))]
    browser = browser_items(loaded, paths, y_true, probs, groups=groups, limit=5)
    order = browser_order(y_true, probs, 5)
    assert [item["index"] for item in browser["items"]] == order.tolist()
    assert browser["shown"] == 5 and browser["total"] == len(paths) == 8
    assert browser["misclassified"] == int((probs.argmax(1) != y_true).sum())
    assert browser["classes"] == list(loaded.classes) and browser["gradcam_note"] is None
    assert browser["groups"] == sorted({groups[i] for i in order})
    for item in browser["items"]:
        i = item["index"]
        assert item["path"] == paths[i] and item["name"] == paths[i].rsplit("/", 1)[-1]
        assert item["group"] == groups[i]
        assert item["probabilities"] == {c: round(float(p), 4) for c, p in zip(loaded.classes, probs[i])}
        assert item["true"] == loaded.classes[y_true[i]]
        assert item["predicted"] == loaded.classes[probs[i].argmax()]
        assert item["confidence"] == round(float(probs[i].max()), 4)
        assert item["correct"] == (probs[i].argmax() == y_true[i])
        assert "set" not in item
        thumb = _decode(item["thumbnail"], "jpeg")
        assert thumb.ndim == 2 and max(thumb.shape) <= THUMB_PX  # gray
        overlay = _decode(item["overlay"], "jpeg")
        assert overlay.shape[:2] == (48, 48) and overlay.shape[2] == 3
        assert np.abs(overlay[..., 0].astype(int) - overlay[..., 2]).max() > 30  # the heat map's colours
        assert _decode(item["image"], "jpeg").shape == (48, 48)


def test_browser_items_without_gradcam_and_with_sets(loaded_and_images, scored):
    loaded, paths = loaded_and_images
    y_true, probs = scored
    sets = probs >= 0.2
    browser = browser_items(loaded, paths, y_true, probs, sets=sets, limit=-1, gradcam=False)
    assert browser["shown"] == browser["total"] == len(paths)
    assert [item["index"] for item in browser["items"]] == browser_order(y_true, probs, None).tolist()
    assert browser["groups"] == [] and browser["gradcam_note"] is None
    for item in browser["items"]:
        i = item["index"]
        assert item["overlay"] is None and item["group"] is None
        assert item["thumbnail"].startswith("data:image/jpeg;base64,")
        expected = [loaded.classes[c] for c in np.argsort(-probs[i], kind="stable") if sets[i, c]]
        assert item["set"] == expected
        assert item["probabilities"] == {c: round(float(p), 4) for c, p in zip(loaded.classes, probs[i])}


def test_browser_items_limit_zero_and_the_page_it_makes(loaded_and_images, scored, report_dir):
    loaded, paths = loaded_and_images
    y_true, probs = scored
    empty = browser_items(loaded, paths, y_true, probs, limit=0)
    assert empty["items"] == [] and empty["shown"] == 0 and empty["total"] == len(paths)
    groups = ["site A"] * len(paths)
    browser = browser_items(loaded, paths, y_true, probs, groups=groups, group_by="hospital", limit=2)
    html = write_report_page(report_dir / "report.md", "Evaluation", browser=browser).read_text()
    assert '<label>hospital <select id="filter-group">' in html and "<option>site A</option>" in html
    data = json.loads(re.search(r'id="browser-data">(.*?)</script>', html, re.S).group(1))
    assert [item["index"] for item in data["items"]] == browser_order(y_true, probs, 2).tolist()
    assert data["items"][0]["overlay"] == browser["items"][0]["overlay"]


def test_markdown_shows_raw_html_as_text():
    """A file name or label that looks like HTML stays text: reports write paths into their Markdown."""
    html = markdown_html("- `a.png`: <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>.png\n")
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;.png" in html


def test_markdown_links_with_a_script_scheme_are_disarmed():
    """A label or group name written into a report as ``[x](javascript:...)`` must not run when clicked."""
    html = markdown_html("[a](javascript:alert(1)) [b](JavaScript:x) [c](https://example.org) [d](report.html) "
                         "![e](figure.png)")
    assert "javascript:" not in html.lower()
    assert 'href="https://example.org"' in html and 'href="report.html"' in html and 'src="figure.png"' in html
