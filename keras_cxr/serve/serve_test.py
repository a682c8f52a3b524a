"""``keras-cxr serve``: the FastAPI app over a saved 32 px resnet18, driven in process (no socket, no browser)."""

import base64
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient  # needs httpx (the dev extra)

from keras_cxr.serve import create_app, load_service
from keras_cxr.testing import write_dicom


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A saved 32 px resnet18 whose probabilities move with the pixels, and 4 synthetic 48 px X-rays."""
    from keras_cxr.data import generate_dataset
    from keras_cxr.testing import save_scaled_resnet18

    root = save_scaled_resnet18(tmp_path_factory.mktemp("serve"), head_scale=3.0)
    generate_dataset(root / "data", per_class=1, size=48, seed=0)
    return root


@pytest.fixture(scope="module")
def png(model_dir):
    return sorted((model_dir / "data" / "images").rglob("*.png"))[0]


@pytest.fixture(scope="module")
def predict_model(model_dir):
    """What ``keras-cxr predict RUN`` scores with (:func:`~keras_cxr.predict.predict_paths` loads the same)."""
    from keras_cxr.predict import load_predictor

    return load_predictor(model_dir)


@pytest.fixture(scope="module")
def service(model_dir):
    return load_service(model_dir)


@pytest.fixture(scope="module")
def client(service):
    return TestClient(create_app(service))


def _post(client, name, data):
    return client.post("/api/predict", files={"file": (name, data, "application/octet-stream")})


def _decode(uri, kind):
    from PIL import Image

    prefix = f"data:image/{kind};base64,"
    assert uri.startswith(prefix), uri[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri[len(prefix):]))))


def _same_probabilities(answer, expected):
    assert list(answer) == list(expected)  # the classes, in the model's order
    for name, p in expected.items():
        assert answer[name] == pytest.approx(p, abs=1e-7), name


# -- /api/predict --------------------------------------------------------------------------------------------

def test_upload_gets_predicts_probabilities_and_the_models_input(client, predict_model, png):
    from keras_cxr.predict import predict_paths

    answer = _post(client, png.name, png.read_bytes())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    expected = predict_paths(predict_model, [png])[0]
    _same_probabilities(result["probabilities"], expected["probabilities"])
    assert result["predicted"] == expected["predicted"] and result["path"] == png.name
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    model_input = _decode(result["model_input"], "png")  # PNG: every pixel as the network got it
    assert model_input.dtype == np.uint8
    np.testing.assert_array_equal(model_input, predict_model.converter(png)[..., 0])  # the run's converter
    assert _decode(result["image"], "jpeg").shape == (48, 48) and result["size"] == [48, 48]
    overlay = _decode(result["gradcam"], "jpeg")
    assert overlay.shape == (48, 48, 3)
    assert "set" not in result and "coverage" not in result and "saved_to" not in result  # uncalibrated, not kept


def test_gradcam_explains_the_predicted_class(client, png, service):
    """The overlay is the Grad-CAM of the predicted class (of the four, the closest to it)."""
    from keras_cxr.data.decode import read_image
    from keras_cxr.explain.maps import map_to_image, prepare_input
    from keras_cxr.explain.overlay import blend_heatmap

    result = _post(client, png.name, png.read_bytes()).json()
    overlay = _decode(result["gradcam"], "jpeg").astype(np.float64) / 255.0
    gray = read_image(png)
    converter = service.predictor.converter
    x = prepare_input(gray, service.explainer.input_shape, converter)[None]
    distances = []
    for target in range(len(service.classes)):
        heatmap = map_to_image(service.explainer(x, [target])[0], gray.shape, converter)
        distances.append(np.abs(blend_heatmap(gray, heatmap) - overlay).mean())
    assert int(np.argmin(distances)) == service.classes.index(result["predicted"]), distances
    assert min(distances) < 0.02  # JPEG's loss only


def test_dicom_upload_with_or_without_its_extension(client, predict_model, tmp_path):
    from keras_cxr.predict import predict_paths

    pixels = (np.random.default_rng(0).random((60, 50)) * 4095).astype(np.uint16)
    dicom = write_dicom(tmp_path / "scan.dcm", pixels)
    expected = predict_paths(predict_model, [dicom])[0]["probabilities"]
    for name in ("scan.dcm", "scan"):  # the DICM preamble, not the name, makes it a DICOM
        answer = _post(client, name, dicom.read_bytes())
        assert answer.status_code == 200, answer.text
        _same_probabilities(answer.json()["probabilities"], expected)
        assert answer.json()["size"] == [60, 50]


def test_bad_uploads_are_422_answers_naming_the_file(client, tmp_path):
    from keras_cxr.testing import write_dicom_without_pixels, write_png_claiming_size

    bad = {"x.png": (b"this is not a picture\n", "not an image"),
           "empty.png": (b"", "empty"),
           "header-only.dcm": (write_dicom_without_pixels(tmp_path / "h.dcm").read_bytes(), "without pixel data"),
           "bomb.png": (write_png_claiming_size(tmp_path / "b.png", 100_000, 100_000).read_bytes(), "too large")}
    for name, (data, problem) in bad.items():
        answer = _post(client, name, data)
        assert answer.status_code == 422, (name, answer.text)
        body = answer.json()
        assert body["file"] == name and body["error"].startswith(f"{name}: "), body
        assert problem in body["error"], body
    answer = _post(client, "../../etc/x.png", b"abc")  # a client's path is not ours: the name only
    assert answer.status_code == 422 and answer.json()["file"] == "x.png"


def test_a_file_over_the_limit_is_413(service):
    small = TestClient(create_app(service, max_upload_mb=0.001))  # 1048 bytes
    answer = _post(small, "big.png", b"\0" * 1049)
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"file": "big.png", "error": "big.png: larger than the 0.001 MB limit (--max-upload-mb)"}
    at_limit = _post(small, "edge.png", b"\0" * 1048)
    assert at_limit.status_code == 422 and "not an image" in at_limit.json()["error"]
    assert "up to 0.001 MB each" in small.get("/").text


def test_a_failure_that_is_not_the_files_is_still_an_answer(client, service, png, monkeypatch):
    def broken(data, name):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(service, "analyse", broken)
    answer = _post(client, png.name, png.read_bytes())
    assert answer.status_code == 500
    assert answer.json() == {"file": png.name,
                             "error": f"{png.name}: could not be analysed (RuntimeError: out of memory)"}


# -- what is kept ---------------------------------------------------------------------------------------------

def test_save_dir_keeps_each_upload_and_its_result(service, png, tmp_path):
    kept = tmp_path / "kept"
    saving = TestClient(create_app(service, save_dir=kept))
    assert f"uploads are saved to {kept}" in saving.get("/").text
    answers = [_post(saving, name, png.read_bytes()).json() for name in ("a.png", "a.png", "my scan (1).png")]
    uploads = sorted(p for p in kept.iterdir() if p.suffix != ".json")
    assert len(uploads) == 3 and len(list(kept.glob("*.json"))) == 3
    assert sorted(a["saved_to"] for a in answers) == [str(p) for p in uploads]
    for answer in answers:
        saved = Path(answer["saved_to"])
        assert saved.read_bytes() == png.read_bytes()
        assert re.fullmatch(r"[A-Za-z0-9._-]+", saved.name)
        record = json.loads(saved.with_name(saved.name + ".json").read_text())
        assert record == {k: v for k, v in answer.items() if k not in ("image", "model_input", "gradcam", "saved_to")}


def test_save_dir_never_overwrites_even_at_the_same_instant(service, model_dir, tmp_path, monkeypatch):
    """Names carry the time to the microsecond; uploads within one clock tick (coarse clocks) are still all kept."""
    import datetime

    import keras_cxr.serve.app as app_module

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2026, 1, 2, 3, 4, 5, 678901)

    monkeypatch.setattr(app_module, "datetime", type("clock", (), {"datetime": Frozen}))
    saving = TestClient(create_app(service, save_dir=tmp_path))
    images = sorted((model_dir / "data" / "images").rglob("*.png"))[:3]
    # "a.png.json"'s upload has the name "a.png"'s result would get at the same instant
    uploads = [(name, image.read_bytes()) for name, image in zip(("a.png.json", "a.png", "a.png"), images)]
    answers = [_post(saving, name, data).json() for name, data in uploads]
    assert len({answer["saved_to"] for answer in answers}) == 3
    assert len(list(tmp_path.iterdir())) == 6
    for answer, (_, data) in zip(answers, uploads):
        saved = Path(answer["saved_to"])
        assert saved.read_bytes() == data
        record = json.loads(saved.with_name(saved.name + ".json").read_text())
        assert record["probabilities"] == answer["probabilities"]


def test_without_save_dir_nothing_is_written(client, model_dir, png, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = sorted(p for p in model_dir.rglob("*"))
    assert _post(client, png.name, png.read_bytes()).status_code == 200
    assert _post(client, "x.png", b"junk").status_code == 422
    assert sorted(tmp_path.rglob("*")) == []
    assert sorted(p for p in model_dir.rglob("*")) == before


# -- the page and the model's description --------------------------------------------------------------------

def test_page_names_the_classes_and_keeps_nothing(client, service):
    answer = client.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    page = answer.text
    for name in service.classes:
        assert f'<span class="chip">{name}</span>' in page
    assert "uploads are not kept" in page and "uploads are saved" not in page
    assert "<title>Try resnet18</title>" in page and "up to 64 MB each" in page
    assert '<ul class="notes" id="model-notes"><li>Uncalibrated: ' in page and "calibrated: temperature" not in page
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    model = json.loads(re.search(r'<script type="application/json" id="model-data">(.*?)</script>', page, re.S)[1])
    assert model["classes"] == service.classes


def test_model_description_health_and_card(client, service):
    info = client.get("/api/model").json()
    assert info["classes"] == ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]
    assert info["input_size"] == 32 and info["preprocessing"]["image_size"] == 32
    assert info["temperature"] is None and info["conformal_coverage"] is None and info["gradcam"] is True
    assert any(note.startswith("Uncalibrated") for note in info["notes"])
    assert client.get("/healthz").json() == {"ok": True}
    card = client.get("/model-card")
    assert card.status_code == 200 and "<h2>Intended use</h2>" in card.text


@pytest.fixture(scope="module")
def calibrated_dir(model_dir, tmp_path_factory):
    """The same network with a calibration.json: temperature 2, and 40 made-up val images whose true-class
    probabilities (0.1 to 0.6) give the test image's set two classes at 80% coverage and four at 95%."""
    from keras_cxr.models.loading import model_sha1
    from keras_cxr.uncertainty.conformal import ConformalSets

    root = tmp_path_factory.mktemp("calibrated")
    for name in ("model.keras", "classes.json"):
        shutil.copy(model_dir / name, root / name)
    classes = json.loads((root / "classes.json").read_text())
    conformal = ConformalSets(np.arange(40) % 4, np.linspace(0.1, 0.6, 40), len(classes))
    (root / "calibration.json").write_text(json.dumps({
        "temperature": 2.0, "model_sha1": model_sha1(root / "model.keras"), "classes": classes,
        "fitted_on": {"data": "made up", "split": "val", "images": 40}, "ece": {"before": 0.2, "after": 0.1},
        "conformal": conformal.to_dict()}))
    return root


def test_a_calibrated_model_shows_predicts_sets(calibrated_dir, predict_model, png):
    from keras_cxr.predict import load_predictor, predict_paths

    client = TestClient(create_app(load_service(calibrated_dir, coverage=0.8)))
    predictor = load_predictor(calibrated_dir)
    info = client.get("/api/model").json()
    assert info["temperature"] == 2.0 and info["conformal_coverage"] == 0.8 and info["notes"] == []
    result = _post(client, png.name, png.read_bytes()).json()
    expected = predict_paths(predictor, [png], conformal=0.8)[0]
    _same_probabilities(result["probabilities"], expected["probabilities"])
    assert result["set"] == expected["set"] and result["coverage"] == 0.8
    assert 1 < len(result["set"]) < len(predict_paths(predictor, [png], conformal=0.95)[0]["set"])
    raw = predict_paths(predict_model, [png])[0]["probabilities"]
    assert max(result["probabilities"].values()) < max(raw.values())  # temperature 2 softens
    page = client.get("/").text
    assert "calibrated: temperature 2.00" in page and "conformal sets at 80% coverage" in page
    assert "Uncalibrated" not in page


def test_no_sets_and_no_gradcam_when_asked(calibrated_dir, png):
    service = load_service(calibrated_dir, coverage=None, gradcam=False)
    info = service.info()
    assert info["temperature"] == 2.0 and info["conformal_coverage"] is None and info["gradcam"] is False
    result = service.analyse(png.read_bytes(), png.name)
    assert result["gradcam"] is None and "set" not in result and "coverage" not in result
    assert result["model_input"].startswith("data:image/png;base64,")


def test_missing_model():
    with pytest.raises(FileNotFoundError, match="Model not found"):
        load_service("no/such/run")


# -- the command ----------------------------------------------------------------------------------------------

def test_cli_help_and_defaults(capsys):
    from keras_cxr.cli import build_parser, main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--save-dir", "--conformal", "--max-upload-mb", "RUN_OR_MODEL"):
        assert option in text, option
    args = build_parser().parse_args(["serve", "runs/x"])
    assert (args.model, args.host, args.port, args.conformal, args.save_dir, args.max_upload_mb) == \
        ("runs/x", "127.0.0.1", 8000, 0.95, None, 64)


def test_cli_passes_its_options_to_serve(monkeypatch):
    import keras_cxr.serve
    from keras_cxr.cli import main

    calls = []
    monkeypatch.setattr(keras_cxr.serve, "serve", lambda *args, **kwargs: calls.append((args, kwargs)))
    assert main(["serve", "runs/x", "--port", "9000", "--conformal", "0", "--save-dir", "kept",
                 "--max-upload-mb", "5"]) == 0
    assert calls == [(("runs/x", "127.0.0.1", 9000), {"coverage": None, "save_dir": "kept", "max_upload_mb": 5.0})]
    assert main(["serve", "runs/x", "--conformal", "0.8"]) == 0
    assert calls[-1][1]["coverage"] == 0.8


def test_serve_warns_when_listening_beyond_this_machine(monkeypatch, service):
    import uvicorn

    import keras_cxr.serve.service
    from keras_cxr.serve import serve

    loads, runs = [], []
    monkeypatch.setattr(keras_cxr.serve.service, "load_service", lambda model, **kw: loads.append(kw) or service)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    lines = []
    serve("run", log=lines.append)
    assert runs[-1] == {"host": "127.0.0.1", "port": 8000, "log_level": "warning"} and loads[-1] == {"coverage": 0.95}
    assert lines == ["Serving resnet18 at http://127.0.0.1:8000/ (Ctrl+C stops)"]
    lines.clear()
    serve("run", "0.0.0.0", 8080, coverage=None, log=lines.append)
    assert lines[0].startswith("WARNING: listening on 0.0.0.0") and loads[-1] == {"coverage": None}
    lines.clear()
    serve("run", "::", 8080, log=lines.append)
    assert lines[0].startswith("WARNING") and lines[1].startswith("Serving resnet18 at http://[::]:8080/")


def test_uploads_stay_in_memory_and_oversized_bodies_are_refused_unread(service, monkeypatch):
    """Starlette would spool a file over 1 MB to disk; up to the limit it stays in memory, and a body declared
    larger than the limit is refused before it is read."""
    import tempfile

    rolled = []
    real = tempfile.SpooledTemporaryFile.rollover
    monkeypatch.setattr(tempfile.SpooledTemporaryFile, "rollover", lambda self: rolled.append(1) or real(self))
    roomy = TestClient(create_app(service, max_upload_mb=8))
    answer = _post(roomy, "big.png", b"\0" * (3 * 1024 * 1024))
    assert answer.status_code == 422 and not rolled, answer.text  # parsed in memory, then "not an image"
    small = TestClient(create_app(service, max_upload_mb=0.01))
    refused = _post(small, "huge.png", b"\0" * (200 * 1024))
    assert refused.status_code == 413 and "larger than the 0.01 MB limit" in refused.json()["error"]


def test_other_sites_pages_cannot_post_here(client, png):
    foreign = client.post("/api/predict", files={"file": ("x.png", png.read_bytes(), "image/png")},
                          headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "evil.example" in foreign.json()["error"]
    own = client.post("/api/predict", files={"file": ("x.png", png.read_bytes(), "image/png")},
                      headers={"Origin": "http://testserver"})
    assert own.status_code == 200, own.text


def test_a_long_file_name_is_saved_shortened_and_a_failed_save_still_answers(service, png, tmp_path):
    kept = tmp_path / "kept"
    saving = TestClient(create_app(service, save_dir=kept))
    answer = _post(saving, "x" * 250 + ".png", png.read_bytes())
    assert answer.status_code == 200 and len(Path(answer.json()["saved_to"]).name) < 160
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the save folder should be")  # the save fails, the answer must not
    failed = _post(TestClient(create_app(service, save_dir=blocked)), "y.png", png.read_bytes())
    assert failed.status_code == 200 and "y.png was not saved to" in failed.json()["save_error"]
    assert failed.json()["predicted"] and blocked.read_text().startswith("a file")
