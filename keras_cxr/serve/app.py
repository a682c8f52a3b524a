"""``keras-cxr serve``: a local web page to try a model on your own X-rays.

FastAPI (on Starlette) rather than Gradio: the page is one Jinja2 template
with inline script and no assets from the internet (Gradio's front end loads
fonts and a bundle, and a hospital network may have no way out), the same
``/api/predict`` endpoint serves scripts (``curl -F file=@x.png``), and the
whole server is a few small, maintained packages. Uploads live in memory for
the request and are written nowhere unless ``save_dir`` is given.

Every failure about an upload (not an image, a broken DICOM, too large) is a
422 answer whose ``error`` names the file and the problem, which the page
shows beside that file; nothing about a bad file is a server error.
"""

import datetime
import itertools
import json
import re
from pathlib import Path

MAX_UPLOAD_MB = 64


def create_app(service, *, save_dir=None, max_upload_mb=MAX_UPLOAD_MB):
    """The FastAPI app serving ``service`` (a :class:`~keras_cxr.serve.service.ModelService`).

    Routes: ``/`` the page, ``POST /api/predict`` (multipart field ``file``), ``/api/model``,
    ``/model-card`` (the card as HTML), ``/healthz``.
    """
    from fastapi import FastAPI, File, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse
    from markupsafe import Markup

    from keras_cxr import __version__
    from keras_cxr.pages.render import markdown_html, render

    app = FastAPI(title="keras-cxr serve", version=__version__, docs_url=None, redoc_url=None)  # docs pages load a CDN
    save_dir = Path(save_dir) if save_dir else None
    limit = int(max_upload_mb * 1024 * 1024)
    card_html = Markup(markdown_html(service.card_markdown)) if service.card_markdown else None
    _keep_uploads_in_memory(limit)

    @app.middleware("http")
    async def guard_uploads(request, call_next):
        """Before the body is read: refuse other sites' pages posting here, and bodies over the limit."""
        if request.method == "POST":
            refused = _refuse_request(request.headers, limit, max_upload_mb)
            if refused is not None:
                return JSONResponse({"file": "upload", "error": refused[1]}, status_code=refused[0])
        return await call_next(request)

    @app.get("/", response_class=HTMLResponse)
    def page():
        return render("serve.html.j2", title=f"Try {service.name}", model=service.info(), card=card_html,
                      max_upload_mb=max_upload_mb, saving=str(save_dir) if save_dir else None, version=__version__)

    @app.get("/api/model")
    def model_info():
        return service.info()

    @app.get("/model-card", response_class=HTMLResponse)
    def model_card():
        body = card_html or "<p>This model has no model card (keras-cxr card RUN writes one).</p>"
        return f"<!DOCTYPE html><meta charset='utf-8'><title>Model card</title>{body}"

    @app.get("/healthz")
    def health():
        return {"ok": True}

    @app.post("/api/predict")
    def predict(file: UploadFile = File(...)):
        name = Path(file.filename or "upload").name
        data = file.file.read(limit + 1)
        if len(data) > limit:
            return _refused(name, f"larger than the {max_upload_mb:g} MB limit (--max-upload-mb)", 413)
        if not data:
            return _refused(name, "the file is empty")
        from keras_cxr.data.decode import ImageDecodeError

        try:
            result = service.analyse(data, name)
        except ImageDecodeError as error:
            return _refused(name, error.reason)
        except Exception as error:  # a bug, not the file: still an answer the page can show, and logged
            import logging

            logging.getLogger("keras_cxr.serve").exception("analysing %s failed", name)
            return _refused(name, f"could not be analysed ({type(error).__name__}: {error})", 500)
        if save_dir is not None:
            try:
                result["saved_to"] = str(_save_upload(save_dir, name, data, result))
            except OSError as error:  # disk full, permissions: the result still reaches the page
                result["save_error"] = f"{name} was not saved to {save_dir}: {error.strerror or error}"
        return result

    def _refused(name, reason, status=422):
        return JSONResponse({"file": name, "error": f"{name}: {reason}"}, status_code=status)

    return app


# Multipart overhead (boundaries, headers) allowed above the file limit in a request's Content-Length.
_FORM_OVERHEAD = 64 * 1024


def _keep_uploads_in_memory(limit):
    """Starlette spools a form's files over 1 MB to temporary files; up to the upload limit, keep them in memory.

    Requests over the limit never reach the parser (:func:`_refuse_request`), so no upload touches the disk.
    """
    from starlette.formparsers import MultiPartParser

    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, limit + _FORM_OVERHEAD)


def _refuse_request(headers, limit, max_upload_mb):
    """``(status, message)`` for a POST to refuse before reading it, else None.

    A browser names the page a form came from (``Origin``): one from another site (any web page open in the
    same browser can post to 127.0.0.1) is refused. A declared body over the limit is refused unread.
    """
    from urllib.parse import urlsplit

    origin = headers.get("origin")
    if origin and urlsplit(origin).netloc != headers.get("host"):
        return 403, f"refused: a page of {origin} may not send X-rays to this server"
    try:
        length = int(headers.get("content-length") or 0)
    except ValueError:
        return 400, "refused: the request's Content-Length is not a number"
    if length > limit + _FORM_OVERHEAD:
        return 413, f"upload: larger than the {max_upload_mb:g} MB limit (--max-upload-mb)"
    return None


def _save_upload(save_dir, name, data, result):
    """The upload and its result (without the embedded pictures) under ``save_dir``, never over another file.

    Names start with the time to the microsecond; both files are created exclusively, so two uploads of one
    name within a clock tick (coarse clocks, concurrent requests) get ``-1``, ``-2``... instead of one
    replacing the other, and an upload named ``x.json`` never takes the place of ``x``'s result.
    """
    save_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[-120:] or "upload"  # file systems stop at 255 bytes
    kept = {k: v for k, v in result.items() if k not in ("image", "model_input", "gradcam")}
    for attempt in itertools.count():
        target = save_dir / (f"{stamp}-{attempt}_{safe}" if attempt else f"{stamp}_{safe}")
        try:
            with open(target, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            continue
        try:
            with open(target.with_name(target.name + ".json"), "x") as handle:
                handle.write(json.dumps(kept, indent=2) + "\n")
        except FileExistsError:
            target.unlink()
            continue
        return target


def serve(model, host="127.0.0.1", port=8000, *, coverage=0.95, save_dir=None, max_upload_mb=MAX_UPLOAD_MB,
          log=print):
    """Load ``model`` and serve it until interrupted (uvicorn)."""
    import uvicorn

    from keras_cxr.serve.service import load_service

    service = load_service(model, coverage=coverage)
    app = create_app(service, save_dir=save_dir, max_upload_mb=max_upload_mb)
    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"WARNING: listening on {host}: other machines on the network can send X-rays to this model and read "
            "its answers. Uploads still stay on this machine.")
    log(f"Serving {service.name} at http://{'[' + host + ']' if ':' in host else host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
