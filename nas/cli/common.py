"""What every nas-* command shares: one-line errors, exit codes and checked numeric options."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from nas._core import ConfigError, NasError
from nas._log import log_to_stderr

EXIT_USAGE = 2


def run(prog: str, main: Callable[[list[str] | None], int], argv: list[str] | None) -> int:
    """Run `main`; a user-facing error (any `NasError`: bad input, unreadable data or
    checkpoints, a study that does not match, a failed export or search) becomes one line on
    stderr and its exit status (2 unless the error says otherwise) instead of a traceback."""
    log_to_stderr()  # progress and warnings of nas's loggers: stderr; stdout is the command's
    try:
        return main(argv)
    except NasError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are ConfigErrors: `run` prints them as one line (`--workers:
    expected an integer >= 1, got 0`) and exits 2, rather than a usage dump."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message.removeprefix("argument "))


def int_at_least(low: int) -> Callable[[str], int]:
    """An argparse `type=`: an integer of at least `low`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value}")
        return value

    return parse


positive_int = int_at_least(1)  # --workers, --trials ...
non_negative_int = int_at_least(0)  # seeds


def non_negative_float(text: str) -> float:
    """An argparse `type=`: a finite number >= 0 (not nan, not inf)."""
    value = _float(text, "a finite number >= 0")
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {value}")
    return value


def kendall_tau(text: str) -> float:
    """An argparse `type=`: a Kendall tau a ranking can aim at, in (-1, 1]."""
    value = _float(text, "a Kendall tau in (-1, 1]")
    if not -1 < value <= 1:  # nan fails too
        raise argparse.ArgumentTypeError(f"expected a Kendall tau in (-1, 1], got {value}")
    return value


def _float(text: str, expected: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def add_skip_bad_images(p: argparse.ArgumentParser) -> None:
    """`--skip-bad-images`, with one help text wherever images are decoded."""
    p.add_argument(
        "--skip-bad-images",
        action="store_true",
        help="leave out images that cannot be decoded, with a count in the log (default: stop, "
        "naming one)",
    )


def add_retry_failed(p: argparse.ArgumentParser) -> None:
    """`--retry-failed` of the commands that keep a run table (nas-compare, nas-calibrate)."""
    p.add_argument(
        "--retry-failed",
        action="store_true",
        help="train every failed run of the table again; without it only transient failures "
        "(out of memory, a killed worker) are tried again, up to twice, and deterministic "
        "ones (NaN loss, a bad spec) stay failed",
    )


def add_storage(p: argparse.ArgumentParser, *, kind: str) -> None:
    """`--storage URL` of the commands that keep a run table: the table in a database, where
    several machines share it (its name: `kind`/OUT's folder name, `nas.studies._tables`)."""
    p.add_argument(
        "--storage",
        metavar="URL",
        help="keep the run table in this database instead of OUT/runs.jsonl, e.g. "
        "postgresql+psycopg2://user:pw@host/db (as nas-search --storage) or sqlite:///runs.db; "
        f"its name there is {kind}/<OUT's folder name>: machines giving the same URL and a "
        "results folder of the same name (the default one: the same command) share its runs, "
        "and each writes the report into its own OUT",
    )
