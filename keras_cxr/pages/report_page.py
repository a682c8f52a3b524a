"""``report.html``: a command's ``.md`` report as one self-contained page, plus what only a browser can show.

The page's text is the Markdown report rendered (so the two can never
disagree), with its figures embedded; above it sit the headline numbers, and
below it, for evaluations, the image browser (:mod:`keras_cxr.pages.image_browser`).
"""

import datetime
import re
from pathlib import Path

from keras_cxr.pages.render import embed_local_images, markdown_html, render
from keras_cxr.utils.outputs import write_text_atomic

PAGE = "report.html"


def write_report_page(markdown_path, title, *, headline=(), browser=None, out_path=None, notes=(), appendix=()):
    """Write ``report.html`` beside ``markdown_path`` (or at ``out_path``); returns its path.

    ``headline``: ``[{"label", "value", "detail"}]`` shown as tiles; ``browser``: an
    :func:`~keras_cxr.pages.image_browser.browser_items` dict; ``notes``: warnings shown first;
    ``appendix``: ``(title, markdown file)`` pairs shown folded after the report (the model card).
    """
    from markupsafe import Markup

    from keras_cxr import __version__

    markdown_path = Path(markdown_path)
    out_path = Path(out_path) if out_path else markdown_path.with_name(PAGE)
    body = _without_title(embed_local_images(markdown_html(markdown_path.read_text()), markdown_path.parent))
    folded = [{"title": name, "body": Markup(embed_local_images(markdown_html(Path(path).read_text()),
                                                                 Path(path).parent))}
              for name, path in appendix if Path(path).is_file()]
    page = render("report.html.j2", title=title, headline=list(headline), body=Markup(body), browser=browser,
                  notes=list(notes), appendix=folded, version=__version__,
                  generated=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    write_text_atomic(out_path, page)
    return out_path


def _without_title(html):
    """The rendered report less its leading ``<h1>``: the page header already shows the title."""
    return re.sub(r"^\s*<h1>.*?</h1>\s*", "", html, count=1, flags=re.S)


def interval_tile(label, value, interval=None, percent=True):
    """A headline tile: ``value`` with its 95% interval (``{"lower", "upper"}``) when there is one."""
    def fmt(v):
        return "n/a" if v is None else (f"{100 * v:.1f}%" if percent else f"{v:.3f}")

    detail = ""
    if interval and interval.get("lower") is not None:
        detail = f"95% CI {fmt(interval['lower'])} – {fmt(interval['upper'])}"
    return {"label": label, "value": fmt(value), "detail": detail}
