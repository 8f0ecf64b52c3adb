"""The proxy data of an image folder: decoded once (in parallel), cached, memory-mapped."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nas.data import cache as C
from nas.data.decode import decode_files, decode_image
from nas.data.proxy import load_proxy_data
from nas.space import ConfigError
from tests.train.full_fixtures import REPO

CLASSES = ("n01", "n02", "n03")


def make_folder(root: Path, *, per_class: int = 6, size: tuple[int, int] = (40, 30)) -> Path:
    """train/<class>/*.JPEG, each class its own colour plus noise."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(CLASSES):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            base = np.array([80 * c, 255 - 80 * c, 100], dtype=float)
            pixels = np.clip(base + rng.normal(0, 10, (size[1], size[0], 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{name}_{i}.JPEG")
    return root


def load(root: Path, **options) -> object:
    return load_proxy_data(
        f"folder:{root}",
        train_images=options.pop("train_images", 9),
        val_images=options.pop("val_images", 3),
        folder_size=16,
        workers=options.pop("workers", 1),
        **options,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "data")


def test_a_second_load_maps_the_cache_and_decodes_nothing(folder, monkeypatch):
    first = load(folder)
    assert first.cache_built and first.cache_path.parent == C.cache_root()
    assert first.cache_path.with_suffix(".json").is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("nas.data.proxy.decode_files", no_decoding)
    second = load(folder)
    assert not second.cache_built and second.cache_path == first.cache_path
    assert torch.equal(second.train_x, first.train_x) and torch.equal(second.val_y, first.val_y)
    assert isinstance(np.load(second.cache_path, mmap_mode="r"), np.memmap)
    # the images are what PIL decodes: each class keeps its colour
    red = second.train_x[:, 0].float().mean((1, 2))
    for k in range(3):
        assert abs(red[second.train_y == k].mean().item() - 80 * k) < 12


def test_another_seed_size_or_class_subset_is_another_entry(folder):
    paths = {
        load(folder).cache_path,
        load(folder, seed=1).cache_path,
        load(folder, classes=2, train_images=6, val_images=2).cache_path,
    }
    assert len(paths) == 3


def test_only_drawn_files_are_stat_and_only_they_invalidate(folder, monkeypatch):
    seen: list[Path] = []
    real = C._stat
    monkeypatch.setattr(C, "_stat", lambda p: (seen.append(p), real(p))[1])
    first = load(folder)  # 12 of the 18 files
    assert len(seen) == 12
    drawn = {Path(p) for p in seen}
    undrawn = next(p for p in sorted(folder.rglob("*.JPEG")) if p not in drawn)
    os.utime(undrawn, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not load(folder).cache_built  # a file the proxy does not use changes nothing
    changed = sorted(drawn)[0]
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = load(folder)
    assert again.cache_built and again.cache_path != first.cache_path


def test_two_processes_decode_the_same_pixels_as_one(folder, monkeypatch, tmp_path):
    monkeypatch.setattr("nas.data.decode.CHUNK", 4)  # 12 images: three tasks for the pool
    one = load(folder, workers=1)
    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path / "other-cache"))
    two = load(folder, workers=2)
    assert two.cache_built and two.cache_path != one.cache_path
    assert torch.equal(one.train_x, two.train_x) and torch.equal(one.val_x, two.val_x)


def test_draft_mode_decoding_matches_a_full_decode_closely(tmp_path):
    """JPEG draft mode (decoding at 1/4 scale) is a faster route to nearly the same pixels."""
    from PIL import Image

    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 255, 500)[None, :, None] * np.ones((375, 1, 3))
    image = np.clip(ramp + rng.normal(0, 8, (375, 500, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "a.JPEG", quality=90)
    fast = decode_image(tmp_path / "a.JPEG", 64)
    with Image.open(tmp_path / "a.JPEG") as im:
        full = im.convert("RGB").resize((85, 64), Image.BILINEAR).crop((10, 0, 74, 64))
    assert fast.shape == (64, 64, 3)
    assert np.abs(fast.astype(int) - np.asarray(full).astype(int)).mean() < 4


def test_a_second_builder_waits_for_the_first_and_maps_its_entry(folder, caplog):
    """Process A builds slowly; this process, asking for the same entry, waits on the lock
    and then reads A's entry instead of decoding."""
    script = (
        "import time, nas.data.decode as d\n"
        "real = d.decode_image\n"
        "d.decode_image = lambda p, s: (time.sleep(0.3), real(p, s))[1]\n"
        "from nas.data.proxy import load_proxy_data\n"
        f"x = load_proxy_data('folder:{folder}', train_images=9, val_images=3, "
        "folder_size=16, workers=1)\n"
        "print('built' if x.cache_built else 'loaded', x.cache_path)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    a = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not list(C.cache_root().glob(".*.tmp.npy")):  # A holds the lock and is decoding
        assert a.poll() is None and time.monotonic() < deadline, "A never started building"
        time.sleep(0.05)
    with caplog.at_level(logging.INFO, logger="nas.data"):
        b = load(folder)
    out, _ = a.communicate(timeout=120)
    assert a.returncode == 0 and out.startswith("built")
    assert not b.cache_built and str(b.cache_path) == out.split()[1]
    assert "waiting for another process building cache" in caplog.text


def test_a_killed_build_leaves_no_entry_and_the_next_run_builds(folder, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:  # (undo() would also undo the cache folder's env)
        patched.setattr("nas.data.proxy.decode_files", interrupted)
        with pytest.raises(KeyboardInterrupt):
            load(folder)
    assert not [p for p in C.cache_root().iterdir() if p.suffix in (".npy", ".json")]
    again = load(folder)
    assert again.cache_built and again.cache_path.parent == C.cache_root()


def _break(folder: Path) -> tuple[Path, Path]:
    """A truncated JPEG and a text file named .JPEG, in place of two images."""
    truncated, garbage = (
        folder / "train" / "n01" / "n01_0.JPEG",
        folder / "train" / "n02" / "n02_1.JPEG",
    )
    truncated.write_bytes(truncated.read_bytes()[:300])
    garbage.write_text("not an image")
    return truncated, garbage


def test_an_unreadable_image_stops_with_one_line_naming_it(folder, monkeypatch):
    truncated, garbage = _break(folder)
    with pytest.raises(ConfigError) as e:
        load(folder, train_images=14, val_images=4)  # every image is drawn
    message = str(e.value)
    assert "\n" not in message and "--skip-bad-images" in message
    assert message.startswith((str(truncated), str(garbage)))
    assert "1 more of the 18 drawn images" in message

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    # the entry was written with its list of bad files: skipping them needs no decoding
    monkeypatch.setattr("nas.data.proxy.decode_files", no_decoding)
    with pytest.raises(ConfigError, match="--skip-bad-images"):
        load(folder, train_images=14, val_images=4)


def test_skip_bad_images_leaves_them_out_with_a_count_in_the_log(folder, caplog):
    _break(folder)
    with caplog.at_level(logging.INFO, logger="nas.data"):
        data = load(folder, train_images=14, val_images=4, skip_bad_images=True)
    assert len(data.train_x) + len(data.val_x) == 16 == len(data.train_y) + len(data.val_y)
    assert "left out 2 unreadable image(s) of 18" in caplog.text
    # what is left is decoded images (no zero rows of the failed ones)
    images = torch.cat([data.train_x, data.val_x])
    assert (images.flatten(1).amax(1) > 0).all()


def test_decode_files_reports_bad_rows_and_fills_the_others(folder, tmp_path):
    _break(folder)
    paths = sorted(folder.rglob("*.JPEG"))
    out = tmp_path / "out.npy"
    np.lib.format.open_memmap(out, mode="w+", dtype=np.uint8, shape=(len(paths), 3, 8, 8))
    bad = decode_files(paths, out=out, size=8, workers=1)
    assert [Path(b.path).name for b in bad] == ["n01_0.JPEG", "n02_1.JPEG"]
    assert "truncated" in bad[0].reason or "OSError" in bad[0].reason
    array = np.load(out)
    rows = [i for i in range(len(paths)) if i not in {b.position for b in bad}]
    assert (array[rows].reshape(len(rows), -1).max(1) > 0).all()


def test_an_unwritable_cache_folder_says_how_to_move_it(folder, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(C.CACHE_ENV, str(blocker / "below-a-file"))
    with pytest.raises(ConfigError, match="set NAS_CACHE_DIR to a writable folder"):
        load(folder)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path))
    assert C.cache_root() == tmp_path / "proxy-data"
    monkeypatch.delenv(C.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.cache_root() == tmp_path / "xdg" / "nas" / "proxy-data"
