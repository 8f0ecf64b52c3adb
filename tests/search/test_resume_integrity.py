"""Nothing resumes into something else: a study is bound to its space's content and to its
data's identity, not to the names they were given."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from nas.report import read_trials
from tests.data.test_proxy_cache import make_folder

from .conftest import TINY_BUDGET, cli, cli_env, write_proxy

pytestmark = pytest.mark.slow


def _search(space, tmp_path, data: str, trials: int) -> subprocess.CompletedProcess:
    proxy = write_proxy(tmp_path / "one-epoch.yaml", epochs=1)
    args = ["--space", str(space), "--budget", TINY_BUDGET, "--proxy", str(proxy)]
    args += ["--data", data, "--out", str(tmp_path / "out"), "--trials", str(trials)]
    args += ["--no-progress", "--device", "cpu", "--repeats", "1"]
    return subprocess.run(cli(*args), env=cli_env(), capture_output=True, text=True, timeout=300)


def test_an_edited_space_is_refused_naming_what_changed(tiny_space, tmp_path):
    folder = make_folder(tmp_path / "data", per_class=70, size=(40, 40))
    assert _search(tiny_space, tmp_path, f"folder:{folder}", 1).returncode == 0
    tiny_space.write_text(tiny_space.read_text().replace("{choice: [8, 16]}", "{choice: [8]}"))
    refused = _search(tiny_space, tmp_path, f"folder:{folder}", 2)
    assert refused.returncode == 2
    line = refused.stderr.strip()
    assert "\n" not in line and "Traceback" not in line and "proxy data" not in line
    assert "the space's content changed since (params.width.choice: [8, 16] -> [8])" in line
    assert "another --out" in line
    assert len(read_trials(tmp_path / "out" / "trials.csv")) == 1  # nothing was added to the study


def test_a_comment_edit_or_a_moved_data_folder_resumes(tiny_space, tmp_path):
    folder = make_folder(tmp_path / "data", per_class=70, size=(40, 40))
    assert _search(tiny_space, tmp_path, f"folder:{folder}", 1).returncode == 0
    tiny_space.write_text("# a note\n" + tiny_space.read_text())
    moved = shutil.move(str(folder), str(tmp_path / "elsewhere"))
    again = _search(tiny_space, tmp_path, f"folder:{moved}", 2)
    assert again.returncode == 0, again.stderr
    assert len(read_trials(tmp_path / "out" / "trials.csv")) == 2
