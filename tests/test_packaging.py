"""The package as a user installs it: sdist and wheel built from this tree, the wheel installed
into an empty folder, the shipped spaces found and nas-search run from outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = (
    ".git",
    ".venv",
    "results",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "data",
)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel (built from the sdist, as `python -m build` does) installed with --target."""
    pytest.importorskip("build", reason="the test extra installs `build`")
    tmp = tmp_path_factory.mktemp("pkg")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    dist = tmp / "dist"
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)])
    (wheel,) = dist.glob("budgeted_nas-*.whl")
    assert len(list(dist.glob("budgeted_nas-*.tar.gz"))) == 1
    target = tmp / "site"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ]
    )
    return target


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kwargs)
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def outside_env(target: Path) -> dict[str, str]:
    """Only the target on PYTHONPATH (torch, timm... come from this interpreter's
    site-packages), no spaces folder given: what a fresh environment has."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NAS_SPACES_DIR")}
    return {**env, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}


def test_the_wheel_ships_the_spaces_and_imports_from_the_target(installed, tmp_path):
    code = (
        "import nas, nas.space as s\n"
        "print(nas.__file__)\nprint(s.spaces_dir())\nprint(','.join(s.list_spaces()))"
    )
    out = run([sys.executable, "-c", code], cwd=tmp_path, env=outside_env(installed))
    module, spaces, names = out.stdout.splitlines()
    assert module.startswith(str(installed)) and spaces == str(installed / "nas/search_spaces")
    shipped = sorted(p.stem for p in (ROOT / "search_spaces").glob("*.yaml"))
    assert names.split(",") == shipped
    scripts = {p.name for p in (installed / "bin").iterdir()}
    assert {"nas-search", "nas-train", "nas-flops", "nas-export"} <= scripts


@pytest.mark.slow
def test_the_installed_nas_search_dry_run_works_from_any_folder(installed, tmp_path):
    out = run(
        [
            str(installed / "bin" / "nas-search"),
            "--space",
            "hybrid",
            "--budget",
            "4GFLOPs",
            "--dry-run",
        ],
        cwd=tmp_path,
        env=outside_env(installed),
    )
    assert "space 'hybrid' at 224x224" in out.stdout and "exact" in out.stdout
    assert "candidates x" in out.stdout  # the time estimate ran too
    assert list(tmp_path.iterdir()) == []  # a dry run writes nothing
