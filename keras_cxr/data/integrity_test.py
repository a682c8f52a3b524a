import json

import numpy as np
from PIL import Image

from keras_cxr.data import integrity
from keras_cxr.data.integrity import scan_files


def test_scan_cache_skips_unchanged_files_and_rescans_changed_ones(tmp_path, monkeypatch):
    paths = []
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    decoded, inspect_file = [], integrity.inspect_file

    def counted(path):
        decoded.append(path)
        return inspect_file(path)

    monkeypatch.setattr(integrity, "inspect_file", counted)
    cache = tmp_path / "scan.json"
    first = scan_files(paths, workers=1, cache_path=cache)
    assert sorted(decoded) == paths and set(json.loads(cache.read_text())["files"]) == set(paths)

    decoded.clear()
    again = scan_files(paths, workers=1, cache_path=cache)
    assert decoded == [] and again == first  # every file a cache hit, the same FileInfo

    Image.fromarray(np.full((12, 10), 7, np.uint8)).save(paths[1])  # same path, new size and content
    changed = scan_files(paths, workers=1, cache_path=cache)
    assert decoded == [paths[1]]
    assert (changed[paths[1]].height, changed[paths[1]].width) == (12, 10)
    assert changed[paths[1]].sha1 != first[paths[1]].sha1
    assert {p: changed[p] for p in (paths[0], paths[2])} == {p: first[p] for p in (paths[0], paths[2])}

    decoded.clear()
    assert scan_files(paths, workers=1, cache_path=None) == changed and sorted(decoded) == paths  # no cache: all
