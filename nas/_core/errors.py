"""The errors a user can cause, so every command can print them as one line.

`NasError` is the base of every user-facing error: the `nas-*` commands print it as
`PROG: error: MESSAGE` on stderr and exit with its `exit_status` (2, a usage error, unless
the error says otherwise). Internal invariants stay `assert`s and plain exceptions: a bug
should show its traceback.
"""

from __future__ import annotations


class NasError(Exception):
    """An error the user can act on; its message says what and where, in one line."""

    exit_status = 2  # what a command exits with: bad input, unless a subclass says otherwise


class ConfigError(NasError, ValueError):
    """Bad user input: names the file (if any), the field path and what was expected."""

    def __init__(self, message: str, *, field: str | None = None, source: str | None = None):
        self.message = message
        self.field = field
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.field) if p]
        return ": ".join([*parts, self.message])

    def within(self, *, source: str | None = None, prefix: str | None = None) -> ConfigError:
        """The same error located in a file and/or under a parent field."""
        field = self.field
        if prefix:
            field = f"{prefix}.{field}" if field else prefix
        return ConfigError(self.message, field=field, source=source or self.source)
