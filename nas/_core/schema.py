"""Creating a database's tables when several processes open a fresh database at once.

SQLAlchemy's `create_all` (and so Optuna's `RDBStorage`) checks for each table and then
creates it; two processes that both see it missing race, and PostgreSQL answers the loser
with a unique violation on its catalogue or "relation already exists". The loser only has to
look again: by then the winner has made the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, ProgrammingError

T = TypeVar("T")

ATTEMPTS = 6
PAUSE_S = 0.2  # times the attempt number: the winner creates a handful of tables


def create_racing(make: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """`make()`, tried again while it loses a table-creation race with another process."""
    for attempt in range(1, attempts + 1):
        try:
            return make()
        except (IntegrityError, ProgrammingError):
            if attempt == attempts:
                raise
            time.sleep(PAUSE_S * attempt)
    raise AssertionError("unreachable")
