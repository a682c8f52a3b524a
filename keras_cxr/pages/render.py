"""Jinja2 templates, Markdown and embedded images: the pieces every keras_cxr web page is made of.

Pages are self-contained: CSS and JavaScript are inline, pictures are ``data:``
URIs, and nothing is fetched from the network, so a report opens the same on an
air-gapped hospital workstation as on the laptop that wrote it.
"""

import base64
import functools
import io
import re
from pathlib import Path

import numpy as np

_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".svg": "image/svg+xml"}


@functools.lru_cache(maxsize=1)
def environment():
    """The Jinja2 environment over ``keras_cxr/pages/templates`` (HTML autoescaped)."""
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("keras_cxr.pages", "templates"),
                              autoescape=jinja2.select_autoescape(("html", "j2")),
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def render(template, **context):
    """``template`` (a file under ``templates/``) rendered with ``context``."""
    return environment().get_template(template).render(**context)


def file_data_uri(path):
    """A picture file as a ``data:`` URI (its bytes, base64)."""
    path = Path(path)
    kind = _IMAGE_TYPES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: not a picture a page can embed ({', '.join(_IMAGE_TYPES)})")
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def array_data_uri(image, fmt="JPEG", quality=85):
    """A float [0, 1] gray (H, W) or RGB (H, W, 3) image, or a uint8 one, as a ``data:`` URI.

    JPEG for photographs of X-rays and overlays (a fifth of PNG's size at these sizes), PNG where
    every pixel must stay exact (the model's uint8 input).
    """
    from PIL import Image

    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.dtype != np.uint8:
        array = np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    options = {"quality": quality} if fmt == "JPEG" else {"optimize": True}
    Image.fromarray(array).save(buffer, format=fmt, **options)
    kind = "jpeg" if fmt == "JPEG" else fmt.lower()
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def markdown_html(text):
    """Markdown (the reports' ``.md``) as HTML, tables and fenced code included; raw HTML stays text.

    Reports write file names, labels and column values into their Markdown; one that looks like a tag
    (``<img src=x onerror=...>.png``) must show as text, not run. Python-Markdown passes raw HTML
    through by design, so its two HTML readers are removed.
    """
    import markdown

    converter = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    return _UNSAFE_LINK.sub(r"\1#\3", converter.convert(text))


# A Markdown link or image whose target has a scheme other than http(s)/mailto/data:image (``javascript:``,
# ``vbscript:``...): written into a report through a label or a group name, it must not run when clicked.
_UNSAFE_LINK = re.compile(r'(\b(?:href|src)=")(?!https?:|mailto:|data:image/|#)([A-Za-z][A-Za-z0-9+.-]*:[^"]*)(")', re.I)


_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')


def embed_local_images(html, base_dir):
    """``<img src="relative.png">`` of files under ``base_dir`` -> ``data:`` URIs; other sources stay.

    The report then travels as one file; links (``<a href>``) to CSVs and folders stay relative.
    """
    base_dir = Path(base_dir)

    def inline(match):
        source = match.group(2)
        path = base_dir / source
        if "://" in source or source.startswith("data:") or not path.is_file() \
                or path.suffix.lower() not in _IMAGE_TYPES:
            return match.group(0)
        return match.group(1) + file_data_uri(path) + match.group(3)

    return _IMG_SRC.sub(inline, html)
