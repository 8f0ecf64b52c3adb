"""One error base: every user-facing error is a NasError, and every command prints one line."""

from __future__ import annotations

import pytest

from nas._core import ConfigError, NasError
from nas.cli.common import run
from nas.cost import CostMismatch
from nas.export import ExportError


def test_user_facing_errors_share_the_base():
    from nas.search import SearchError

    for cls in (ConfigError, ExportError, SearchError, CostMismatch):
        assert issubclass(cls, NasError), cls
    assert issubclass(ConfigError, ValueError)  # callers that catch ValueError still do


def _raising(error: BaseException):
    def main(argv):
        raise error

    return main


@pytest.mark.parametrize(
    "error, status",
    [
        (ConfigError("no such folder", field="--data", source="imagenet:/nope"), 2),
        (ExportError("'x-y' is not a Python module name"), 2),
        (CostMismatch("abc: closed form 10 FLOPs, fvcore 12"), 1),
    ],
)
def test_a_command_prints_a_nas_error_as_one_line(error, status, capsys):
    assert run("nas-test", _raising(error), []) == status
    out, err = capsys.readouterr()
    assert out == "" and err == f"nas-test: error: {error}\n"


def test_other_exceptions_keep_their_traceback():
    with pytest.raises(KeyError):
        run("nas-test", _raising(KeyError("a bug")), [])
