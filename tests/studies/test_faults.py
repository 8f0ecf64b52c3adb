"""Bad input and faults on nas-compare and nas-calibrate (issue 21, point 6): bad data before
the first run finishes is one line naming it (and the way past a bad image), not a traceback
of the report written over an empty table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from nas.space import ConfigError

from ..data.test_proxy_cache import make_folder
from ..search.conftest import ROOT, TINY_BUDGET, cli_env, tiny_space, write_proxy
from .test_compare import write_suite

__all__ = ["tiny_space"]

SMALL = {"epochs": 1, "train_images": 18, "val_images": 6, "batch_size": 6, "eval_batch_size": 6}


def bad_folder(root: Path) -> tuple[Path, Path]:
    """An image folder of 3 classes x 8 images (all of them drawn by SMALL) with one
    truncated JPEG."""
    folder = make_folder(root, per_class=8)
    bad = folder / "train" / "n02" / "n02_3.JPEG"
    bad.write_bytes(bad.read_bytes()[:200])
    return folder, bad


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args, "--device", "cpu", "--no-progress"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_one_line_naming(done: subprocess.CompletedProcess, prog: str, bad: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "KeyError" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]  # after the data's own log lines
    assert last.startswith(f"{prog}: error: {bad}: cannot decode this image")
    assert "pass --skip-bad-images" in last


def test_a_bad_image_stops_nas_compare_with_one_line_naming_it(tmp_path):
    folder, bad = bad_folder(tmp_path / "data")
    suite = write_suite(tmp_path / "s.yaml", fidelity={"proxy": "tiny", **SMALL})
    done = _cli(
        "nas.cli.compare",
        "--suite",
        str(suite),
        "--data",
        f"folder:{folder}",
        "--seeds",
        "2",
        "--out",
        str(tmp_path / "out"),
    )
    _assert_one_line_naming(done, "nas-compare", bad)
    assert (tmp_path / "out" / "compare.md").is_file()  # the report of no runs, still written


def test_a_bad_image_stops_nas_calibrate_with_one_line_naming_it(tmp_path, tiny_space):
    folder, bad = bad_folder(tmp_path / "data")
    proxy = write_proxy(tmp_path / "p.yaml", name="quick", **SMALL)
    done = _cli(
        "nas.cli.calibrate",
        "--space",
        str(tiny_space),
        "--budget",
        TINY_BUDGET,
        "--proxies",
        str(proxy),
        "--archs",
        "2",
        "--seeds",
        "2",
        "--data",
        f"folder:{folder}",
        "--out",
        str(tmp_path / "out"),
    )
    _assert_one_line_naming(done, "nas-calibrate", bad)


def test_a_malformed_batch_is_the_error_not_the_report_of_an_empty_table(tmp_path):
    from nas.studies.compare import CompareConfig, run_compare

    root = tmp_path / "cifar" / "cifar-10-batches-bin"
    root.mkdir(parents=True)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        (root / name).write_bytes(np.zeros(3073 + 100, dtype=np.uint8).tobytes())  # torn row
    suite = write_suite(tmp_path / "s.yaml", fidelity={"proxy": "tiny", **SMALL})
    cfg = CompareConfig(
        suite=str(suite), data=f"cifar10:{tmp_path / 'cifar'}", device="cpu", out=str(tmp_path)
    )
    with pytest.raises(ConfigError) as e:
        run_compare(cfg, progress=False)
    assert str(e.value).startswith(f"{root / 'data_batch_1.bin'}: ")
    assert "not a whole number of rows" in str(e.value)
    md = (tmp_path / "compare.md").read_text()  # the report of no runs, still written
    assert "0 runs" in md


@pytest.mark.parametrize("prog", ["compare", "calibrate"])
def test_skip_bad_images_reaches_the_data_loading(tmp_path, tiny_space, monkeypatch, prog):
    """Both commands pass --skip-bad-images to the loader of every fidelity's data."""
    import importlib

    seen: list[dict] = []

    def loader(fidelity, *, device, **options):
        seen.append(options)
        raise ConfigError("stopped by the test")

    monkeypatch.setattr("nas.evaluate.engine.load_fidelity_data", loader)
    main = importlib.import_module(f"nas.cli.{prog}").main
    if prog == "compare":
        suite = write_suite(tmp_path / "s.yaml", fidelity={"proxy": "tiny", **SMALL})
        args = ["--suite", str(suite), "--seeds", "2"]
    else:
        proxy = write_proxy(tmp_path / "p.yaml", name="quick", **SMALL)
        args = ["--space", str(tiny_space), "--budget", TINY_BUDGET, "--proxies", str(proxy)]
        args += ["--archs", "2", "--seeds", "2"]
    args += ["--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]
    assert main(args) == 2
    assert main([*args, "--skip-bad-images"]) == 2
    assert [o.get("skip_bad_images") for o in seen] == [False, True]


@pytest.mark.slow
def test_a_pool_worker_s_data_error_reaches_the_parent_as_the_same_line(tmp_path):
    """With --workers 2 the data is loaded in the worker processes: the error crosses back."""
    from nas.evaluate import Fidelity, RunRequest, RunTable, run_all
    from nas.train.proxy_config import PROXY_PRESETS

    from ..helpers import tiny_spec

    folder, bad = bad_folder(tmp_path / "data")
    fid = Fidelity(PROXY_PRESETS["tiny"].replace(**SMALL), f"folder:{folder}")
    reqs = [RunRequest(tiny_spec("conv", width=8), fid, seed) for seed in range(2)]
    with pytest.raises(ConfigError) as e:
        run_all(reqs, table=RunTable(tmp_path / "runs.jsonl"), workers=2, progress=False)
    assert str(e.value).startswith(f"{bad}: cannot decode this image")
    assert not (tmp_path / "runs.jsonl").exists()  # nothing recorded as a failed run


# --- a suite's `file:` entries ----------------------------------------------------------------

SPEC = {
    "resolution": 32,
    "stem": {"patch_size": 4},
    "stages": [{"width": 8, "blocks": [["conv", 1]]}],
}


def suite_with_file(folder: Path, entry: str) -> Path:
    models = {"conv": {"spec": SPEC}, "mine": {"file": entry}}
    return write_suite(folder / "s.yaml", models=models, findings=[])


def _load_error(suite: Path) -> str:
    from nas.studies.suites import load_suite

    with pytest.raises(ConfigError) as e:
        load_suite(suite)
    return str(e.value)


def test_a_file_entry_outside_the_suite_folder_and_library_is_refused(tmp_path):
    folder, outside = tmp_path / "suite", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (outside / "spec.yaml").write_text(yaml.safe_dump(SPEC))  # a valid spec, but outside
    (folder / "linked.yaml").symlink_to(outside / "spec.yaml")
    (folder / "notes.txt").write_text(yaml.safe_dump(SPEC))  # inside, but not a YAML file
    for entry in (
        "../../../../../../../../etc/passwd",
        "../elsewhere/spec.yaml",
        str(outside / "spec.yaml"),
        "linked.yaml",
        "notes.txt",
    ):
        message = _load_error(suite_with_file(folder, entry))
        assert message.startswith(f"{folder / 's.yaml'}: models.mine.file: {entry}: expected a ")
        assert "inside the suite's folder" in message and "\n" not in message


def test_a_file_that_is_not_a_spec_is_named_and_its_contents_never_echoed(tmp_path):
    secret = "hunter2-s3cret"
    for text in (
        f"{secret}: 1\n",  # a mapping: its keys are not a spec's
        f"{secret}\nsecond line\n",  # plain text reads as one string
        f"password: [{secret}\n",  # not YAML at all
        f"- {secret}\n",
    ):
        (tmp_path / "notes.yaml").write_text(text)
        message = _load_error(suite_with_file(tmp_path, "notes.yaml"))
        assert message.startswith(f"{tmp_path / 's.yaml'}: models.mine.file: notes.yaml: ")
        assert secret not in message and "password" not in message, message
    message = _load_error(suite_with_file(tmp_path, "missing.yaml"))
    assert message == f"{tmp_path / 's.yaml'}: models.mine.file: missing.yaml: file not found"


def test_a_spec_file_s_own_mistake_is_located_in_the_suite_and_in_the_file(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "bad.yaml").write_text(
        yaml.safe_dump({**SPEC, "stages": [{"width": 8}]})
    )
    message = _load_error(suite_with_file(tmp_path, "specs/bad.yaml"))
    assert message == (
        f"{tmp_path / 's.yaml'}: models.mine.file: specs/bad.yaml: stages[0]: "
        "a stage needs 'width' and 'blocks'"
    )


def test_spec_files_in_the_suite_folder_or_the_library_load(tmp_path, monkeypatch):
    from nas.studies.suites import load_suite

    library = tmp_path / "library"
    (library / "archs").mkdir(parents=True)
    (library / "archs" / "lib.yaml").write_text(yaml.safe_dump({**SPEC, "resolution": 64}))
    monkeypatch.setenv("NAS_SPACES_DIR", str(library))
    folder = tmp_path / "suite"
    (folder / "specs").mkdir(parents=True)
    (folder / "specs" / "mine.yaml").write_text(yaml.safe_dump(SPEC))
    suite = load_suite(suite_with_file(folder, "specs/mine.yaml"))
    assert suite.models["mine"].spec == suite.models["conv"].spec
    suite = load_suite(suite_with_file(folder, str(library / "archs" / "lib.yaml")))
    assert suite.models["mine"].spec.resolution == 64


@pytest.mark.parametrize("kind", ["folder", "cifar10"])
def test_a_missing_data_folder_is_one_line_naming_it(tmp_path, kind):
    """Already so before issue 21's point 6: kept by this test."""
    suite = write_suite(tmp_path / "s.yaml", fidelity={"proxy": "tiny", **SMALL})
    missing = tmp_path / "nowhere"
    done = _cli(
        "nas.cli.compare",
        "--suite",
        str(suite),
        "--data",
        f"{kind}:{missing}",
        "--seeds",
        "2",
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"nas-compare: error: {missing}: data folder not found"
    )
