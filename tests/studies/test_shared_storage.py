"""nas-compare and nas-calibrate with `--storage URL` (issue 21, point 6): the run table lives
in a database, named after the results folder, so machines giving the same URL and folder name
share one comparison or calibration; each writes the report into its own folder."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections import Counter

import pandas as pd
import pytest

from nas.evaluate import RunTable
from nas.evaluate.sql_store import SqlStore

from ..search.conftest import ROOT, TINY_BUDGET, cli_env, needs_fmnist, tiny_space
from .test_compare import write_suite

__all__ = ["tiny_space"]  # a fixture

POSTGRES_URL = os.environ.get("NAS_TEST_POSTGRES_URL")


def compare(suite, out, storage: str, *more: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nas.cli.compare",
        "--suite",
        str(suite),
        "--out",
        str(out),
        "--storage",
        storage,
        "--no-progress",
        *more,
    ]


def lines_of(storage: str, name: str) -> list[str]:
    return SqlStore(storage, name=name).read().lines


@pytest.mark.parametrize(
    "command, storage, says",
    [
        ("compare", "nosuch://host/db", "cannot open nosuch://host/db: Can't load plugin"),
        ("calibrate", "runs.db", "expected a URL such as postgresql+psycopg2://"),
        (
            "compare",
            "postgresql+psycopg2://nas:secret@127.0.0.1:1/none",
            "cannot open postgresql+psycopg2://nas:***@127.0.0.1:1/none: ",
        ),
    ],
)
def test_a_storage_that_cannot_be_opened_is_one_line_and_exit_status_2(
    tmp_path, tiny_space, command, storage, says
):
    args = {
        "compare": ["--suite", str(write_suite(tmp_path / "s.yaml"))],
        "calibrate": ["--space", str(tiny_space), "--budget", TINY_BUDGET, "--archs", "2"],
    }[command]
    done = subprocess.run(
        [sys.executable, "-m", f"nas.cli.{command}", *args, "--storage", storage, "--dry-run"],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"nas-{command}: error: --storage: ") and says in line
    assert "secret" not in line


@needs_fmnist
@pytest.mark.slow
def test_a_comparison_in_a_database_resumes_on_another_machine(tmp_path):
    suite = write_suite(tmp_path / "s.yaml")
    storage = f"sqlite:///{tmp_path / 'runs.db'}"
    first, second = tmp_path / "a" / "cmp", tmp_path / "b" / "cmp"  # one name, two machines
    done = subprocess.run(
        compare(suite, first, storage, "--seeds", "2"),
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = lines_of(storage, "compare/cmp")
    assert len(lines) == 4 and not (first / "runs.jsonl").exists()
    assert f"Runs: table 'compare/cmp' in {storage}" in (first / "compare.md").read_text()
    again = subprocess.run(
        compare(suite, second, storage, "--seeds", "2"),
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert lines_of(storage, "compare/cmp") == lines  # nothing trained again
    a, b = (pd.read_csv(d / "compare.csv") for d in (first, second))
    assert len(b) == 4 and a.equals(b)  # the second machine reports the first one's runs


@pytest.mark.skipif(
    not POSTGRES_URL and not os.environ.get("NAS_CI"),
    reason="no PostgreSQL: export NAS_TEST_POSTGRES_URL=$(bash "
    "scripts/start_postgres.sh) to run this test",
)
@needs_fmnist
def test_two_machines_on_a_postgresql_storage_share_one_comparison(tmp_path):
    assert POSTGRES_URL, "NAS_CI is set but NAS_TEST_POSTGRES_URL is not: .ci/run starts it"
    suite = write_suite(tmp_path / "s.yaml")
    name = f"cmp-{uuid.uuid4().hex[:8]}"
    outs = [tmp_path / f"machine{k}" / name for k in range(2)]
    procs = [
        subprocess.Popen(
            compare(suite, out, POSTGRES_URL, "--seeds", "3"),
            cwd=ROOT,
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    try:
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            p.kill()
    table = RunTable(SqlStore(POSTGRES_URL, name=f"compare/{name}"))
    keys = Counter(r.key for r in table.records())
    assert len(table.store.read().lines) == 6 and len(keys) == 6  # each run trained once
    for out in outs:
        assert len(pd.read_csv(out / "compare.csv")) == 6
        md = (out / "compare.md").read_text()
        assert f"Runs: table 'compare/{name}' in postgresql+psycopg2://nas:***@" in md
