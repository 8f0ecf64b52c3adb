"""nas-compare and nas-calibrate pass --retry-failed to the engine (which tries transient
failures again on resume by itself, every failed run with the flag: tests/evaluate)."""

from __future__ import annotations

import importlib

import pytest

from nas.space import ConfigError

from ..search.conftest import TINY_BUDGET, tiny_space, write_proxy
from .test_compare import write_suite
from .test_faults import SMALL

__all__ = ["tiny_space"]


@pytest.mark.parametrize("prog", ["compare", "calibrate"])
def test_retry_failed_reaches_the_engine(tmp_path, tiny_space, monkeypatch, prog):
    seen: list[bool] = []

    def run_all(requests, *, retry_failed=False, **kw):
        seen.append(retry_failed)
        raise ConfigError("stopped by the test")

    study = "compare" if prog == "compare" else "calibration"
    monkeypatch.setattr(f"nas.studies.{study}.run_all", run_all)
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
    assert main([*args, "--retry-failed"]) == 2
    assert seen == [False, True]
