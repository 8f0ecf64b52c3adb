"""nas-search on image data: a folder decoded once and mapped by every worker and every later
run; Downsampled ImageNet with a class subset that the study remembers."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from nas.report import read_trials
from tests.data.test_downsampled import make_batches
from tests.data.test_proxy_cache import make_folder

from .conftest import TINY_BUDGET, cli, cli_env, write_proxy

pytestmark = pytest.mark.slow


def _search(tiny_space, tmp_path, data: str, *args: str) -> subprocess.CompletedProcess:
    proxy = write_proxy(tmp_path / "one-epoch.yaml", epochs=1)
    done = subprocess.run(
        cli(
            "--space",
            str(tiny_space),
            "--budget",
            TINY_BUDGET,
            "--proxy",
            str(proxy),
            "--data",
            data,
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--device",
            "cpu",
            *args,
        ),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_folder_is_decoded_once_for_every_worker_and_every_run(tiny_space, tmp_path):
    folder = make_folder(tmp_path / "data", per_class=70, size=(48, 36))  # 210 of 192 drawn
    first = _search(
        tiny_space,
        tmp_path,
        f"folder:{folder}",
        "--trials",
        "2",
        "--workers",
        "2",
        "--data-workers",
        "2",
    )
    assert "proxy data: decoding 192 images" in first.stderr
    assert "with 2 process(es)" in first.stderr
    worker_log = (tmp_path / "out" / "logs" / "worker-1.log").read_text()
    assert "proxy data: 192 images from the cache" in worker_log
    again = _search(tiny_space, tmp_path, f"folder:{folder}", "--trials", "3")
    assert "proxy data: 192 images from the cache" in again.stderr
    assert "decoding" not in again.stderr
    assert len(read_trials(tmp_path / "out" / "trials.csv")) >= 3


def test_downsampled_imagenet64_with_a_class_subset(tiny_space, tmp_path):
    batches = make_batches(tmp_path / "in64", side=64, map_file=True)
    _search(tiny_space, tmp_path, f"imagenet64:{batches}", "--trials", "1", "--classes", "3")
    run = yaml.safe_load((tmp_path / "out" / "run.yaml").read_text())
    assert run["classes"] == 3 and run["data"] == f"imagenet64:{batches}"
    assert len(read_trials(tmp_path / "out" / "trials.csv")) == 1
    # the study is bound to its classes
    refused = subprocess.run(
        cli(
            "--space",
            str(tiny_space),
            "--budget",
            TINY_BUDGET,
            "--proxy",
            str(tmp_path / "one-epoch.yaml"),
            "--data",
            f"imagenet64:{batches}",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--device",
            "cpu",
            "--trials",
            "2",
        ),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2
    assert "classes: study has 3, this run asks for None" in refused.stderr
