"""nas-data cache list | clear: what the proxy-data cache holds, and removing it."""

from __future__ import annotations

import os
import time

from nas.cli.data import main
from nas.data.cache import cache_root, list_entries
from nas.data.proxy import load_proxy_data
from tests.data.test_proxy_cache import make_folder


def _fill(tmp_path) -> list[str]:
    root = make_folder(tmp_path / "data")
    paths = [
        load_proxy_data(
            f"folder:{root}", train_images=n, val_images=3, folder_size=16, workers=1
        ).cache_path
        for n in (6, 9)
    ]
    return [p.stem for p in paths]


def test_list_shows_each_entry_with_its_source(tmp_path, capsys):
    keys = _fill(tmp_path)
    assert main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 entries, ") and str(cache_root()) in out.splitlines()[0]
    for key, images in zip(keys, (9, 12)):
        line = next(line for line in out.splitlines() if line.startswith(key))
        assert f"folder:{tmp_path / 'data'}: {images} images at 16px" in line


def test_clear_removes_chosen_old_or_all_entries(tmp_path, capsys):
    keys = _fill(tmp_path)
    old = time.time() - 10 * 86400
    for path in cache_root().glob(f"{keys[0]}.*"):
        os.utime(path, (old, old))
    assert main(["cache", "clear", "--older-than", "5"]) == 0
    assert [e.key for e in list_entries()] == [keys[1]]
    assert main(["cache", "clear", "nosuchkey"]) == 2
    assert "no cache entry nosuchkey" in capsys.readouterr().err
    assert main(["cache", "clear", keys[1][:6]]) == 0  # a prefix is enough
    assert list_entries() == [] and not list(cache_root().iterdir())
    assert main(["cache", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("0 entries")
