import numpy as np
import pytest
from PIL import Image

from keras_cxr.data import BadFilesError, generate_dataset, read_image, read_manifest, split_manifest
from keras_cxr.data.pipeline import make_dataset
from keras_cxr.testing import write_dicom, write_png


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    manifest = split_manifest(generate_dataset(root, per_class=6, size=64, seed=0), val=0.3, seed=0)
    manifest.write(root / "split.csv")
    return root


def test_batches_are_ready_for_fit(synth):
    ds = make_dataset(synth / "split.csv", "train", image_size=32, batch_size=5, augment="li_convnext")
    images, labels = next(iter(ds))
    assert images.shape == (5, 32, 32, 3) and labels.shape == (5, 4)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0)
    assert 0.0 <= images.numpy().min() and images.numpy().max() <= 1.0
    assert ds.class_names == ["COVID-19", "Bacterial Pneumonia", "Viral Pneumonia", "Normal"]
    assert ds.num_examples == sum(1 for r in read_manifest(synth / "split.csv").records if r["split"] == "train")


def test_one_channel_and_grayscale_copies(synth):
    one = next(iter(make_dataset(synth / "split.csv", "val", image_size=32, channels=1, batch_size=4)))[0].numpy()
    three = next(iter(make_dataset(synth / "split.csv", "val", image_size=32, channels=3, batch_size=4)))[0].numpy()
    assert one.shape[-1] == 1 and three.shape[-1] == 3
    np.testing.assert_allclose(three[..., 0], three[..., 2])
    np.testing.assert_allclose(three[..., :1], one, atol=1e-6)


def test_deterministic_mode_repeats_exactly_and_the_seed_matters(synth):
    def first_batches(seed):  # several: parallel batches would race for the augmentation's seed counter
        ds = make_dataset(synth / "split.csv", "train", image_size=32, batch_size=4, augment="cheng_dpn",
                          deterministic=True, seed=seed)
        batches = list(ds.take(3))
        return np.concatenate([x.numpy() for x, _ in batches]), np.concatenate([y.numpy() for _, y in batches])

    images, labels = first_batches(3)
    again, again_labels = first_batches(3)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, again_labels)
    other, _ = first_batches(4)
    # Another seed: another order and other augmentations, so image by image the batches differ.
    assert all(np.abs(a - b).max() > 0.05 for a, b in zip(images, other))


@pytest.mark.parametrize("cache", ["memory", "file"])
def test_cache_gives_the_same_images(synth, tmp_path, cache):
    cache_arg = "memory" if cache == "memory" else tmp_path / "cache"
    plain = np.concatenate([x.numpy() for x, _ in make_dataset(synth / "split.csv", "val", image_size=32)])
    ds = make_dataset(synth / "split.csv", "val", image_size=32, cache=cache_arg)
    for _ in range(2):  # first pass fills the cache, second reads it
        cached = np.concatenate([x.numpy() for x, _ in ds])
        np.testing.assert_array_equal(cached, plain)


def test_native_decoders_agree_with_python_decoder(tmp_path):
    base = np.tile(np.linspace(0, 1, 40, dtype=np.float32), (40, 1))
    paths = [write_png(tmp_path / "a8.png", base), write_png(tmp_path / "a16.png", base, bits=16)]
    Image.fromarray(np.round(base * 255).astype(np.uint8)).save(tmp_path / "a.bmp")
    Image.fromarray(np.dstack([np.round(base * 255).astype(np.uint8)] * 3)).save(tmp_path / "rgb.png")
    Image.fromarray(np.round(base * 255).astype(np.uint8)).save(tmp_path / "a.tif")
    write_dicom(tmp_path / "a.dcm", (base * 4095).astype(np.uint16), photometric="MONOCHROME1")
    paths += [tmp_path / "a.bmp", tmp_path / "rgb.png", tmp_path / "a.tif", tmp_path / "a.dcm"]
    lines = ["path,label,patient_id,source"] + [f"{p.name},x,{i},t" for i, p in enumerate(paths)]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    ds = make_dataset(tmp_path / "m.csv", image_size=40, channels=1, batch_size=len(paths), classes=["x", "y"])
    images = next(iter(ds))[0].numpy()[..., 0]
    for path, image in zip(paths, images):
        np.testing.assert_allclose(image, read_image(path), atol=1.5 / 255, err_msg=str(path))


def _with_bad_file(synth, tmp_path):
    manifest = read_manifest(synth / "split.csv")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    records = manifest.records + [dict(manifest.records[0], path=str(bad), split="train")]
    lines = ["path,label,patient_id,source,split"] + [
        f"{manifest.resolve(r)},{r['label']},{r['patient_id']},{r['source']},{r['split']}" for r in records
    ]
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "m.csv", bad


def test_bad_file_fails_before_the_first_epoch(synth, tmp_path):
    csv, bad = _with_bad_file(synth, tmp_path)
    with pytest.raises(BadFilesError, match="broken.png"):
        make_dataset(csv, "train", image_size=32)


def test_bad_file_error_writes_the_report_it_was_given(synth, tmp_path):
    csv, bad = _with_bad_file(synth, tmp_path)
    report = tmp_path / "out" / "bad_files.csv"
    with pytest.raises(BadFilesError, match="broken.png") as error:
        make_dataset(csv, "train", image_size=32, bad_file_report=report)
    assert f"listed in {report}" in str(error.value) and "broken.png" in report.read_text()


def test_skip_bad_without_a_report_writes_nothing_and_names_the_files(synth, tmp_path, monkeypatch, cxr_log):
    csv, bad = _with_bad_file(synth, tmp_path)
    (tmp_path / "empty_cwd").mkdir()
    monkeypatch.chdir(tmp_path / "empty_cwd")
    ds = make_dataset(csv, "train", image_size=32, skip_bad=True)
    assert ds.num_examples > 0 and list((tmp_path / "empty_cwd").iterdir()) == []
    assert any("Skipping 1 unreadable" in m and str(bad) in m for m in cxr_log.warnings())


def test_skip_bad_leaves_it_out_with_a_report(synth, tmp_path):
    csv, bad = _with_bad_file(synth, tmp_path)
    report = tmp_path / "bad.csv"
    ds = make_dataset(csv, "train", image_size=32, skip_bad=True, bad_file_report=report)
    total = sum(int(x.shape[0]) for x, _ in ds)
    assert total == ds.num_examples == sum(1 for _ in open(csv)) - 2 - sum(
        1 for line in open(csv) if line.rstrip().endswith(",val"))
    assert "broken.png" in report.read_text()


def test_empty_split_and_bad_channels(synth):
    with pytest.raises(ValueError, match="No images in split 'test'"):
        make_dataset(synth / "split.csv", "test")
    with pytest.raises(ValueError, match="channels"):
        make_dataset(synth / "split.csv", "train", channels=2)


def _all_images(ds):
    return np.concatenate([x.numpy() for x, _ in ds])


def _all_labels(ds):
    return np.concatenate([y.numpy() for _, y in ds])


def test_file_cache_is_keyed_on_the_input_size(synth, tmp_path, cxr_log):
    prefix = tmp_path / "cache" / "run_val"  # what the trainer passes: data.cache + "_val"
    prefix.parent.mkdir()
    for size in (32, 24):
        first = _all_images(make_dataset(synth / "split.csv", "val", image_size=size, cache=prefix))
        again = _all_images(make_dataset(synth / "split.csv", "val", image_size=size, cache=prefix))
        plain = _all_images(make_dataset(synth / "split.csv", "val", image_size=size, cache=None))
        np.testing.assert_array_equal(first, plain)
        np.testing.assert_array_equal(again, plain)
    assert len(list((tmp_path / "cache").glob("run_val-*.index"))) == 2
    used = [m for m in cxr_log.messages() if m.startswith("tf.data cache:")]
    assert [m.split()[2] for m in used] == ["writing", "reusing", "writing", "reusing"]
    assert all(str(prefix) + "-" in m for m in used)


def test_file_cache_is_keyed_on_the_files_and_labels(tmp_path):
    root = tmp_path / "data"
    manifest = generate_dataset(root, per_class=1, size=32, seed=0)
    prefix = tmp_path / "cache" / "c"
    prefix.parent.mkdir()
    cached = _all_images(make_dataset(manifest, image_size=32, channels=1, cache=prefix))
    changed = manifest.resolve(manifest.records[0])
    Image.fromarray(np.full((32, 32), 7, np.uint8)).save(changed)  # same path, new pixels
    fresh = _all_images(make_dataset(manifest, image_size=32, channels=1, cache=prefix))
    assert not np.array_equal(fresh[0], cached[0]) and (fresh[0] == 7 / 255).all()
    np.testing.assert_array_equal(fresh[1:], cached[1:])
    swapped = manifest.relabel({"COVID-19": "Normal", "Normal": "COVID-19"}, classes=manifest.classes)
    labels = _all_labels(make_dataset(swapped, image_size=32, channels=1, cache=prefix))
    np.testing.assert_array_equal(labels.argmax(1), [manifest.classes.index(r["label"]) for r in swapped.records])
    assert len(list((tmp_path / "cache").glob("c-*.index"))) == 3
