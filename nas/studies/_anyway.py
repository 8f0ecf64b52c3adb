"""A study's report is rewritten from its run table even when the runs stopped early."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("nas.studies")

T = TypeVar("T")


def write_anyway(write: Callable[[], T], *, stopped_by: BaseException | None) -> T | None:
    """`write()` the report of what the table holds. When an error stopped the runs (bad data
    before the first run finished, an interrupt), a report that fails as well is logged, not
    raised: the error that stopped the runs is the one the user must read."""
    if stopped_by is None:
        return write()
    try:
        return write()
    except Exception as e:
        log.warning("the report was not rewritten: %s: %s", type(e).__name__, e)
        return None
