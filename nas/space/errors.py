"""One error type for user input, so the CLI can print it as a single line."""

from __future__ import annotations


class ConfigError(ValueError):
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
