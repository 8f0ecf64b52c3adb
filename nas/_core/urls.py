"""Database URLs as the commands take them (`--storage`): told apart from file paths, and shown
with the password hidden (in logs, reports and run.yaml)."""

from __future__ import annotations

from .errors import ConfigError

EXAMPLES = "postgresql+psycopg2://user:pw@host/db or sqlite:///file.db"


def is_url(storage: str) -> bool:
    return "://" in storage


def mask_url(storage: str) -> str:
    """The storage with any password hidden (for logs and run.yaml)."""
    if not is_url(storage):
        return storage
    try:
        from sqlalchemy.engine import make_url

        return make_url(storage).render_as_string(hide_password=True)
    except Exception:
        return storage.split("://", 1)[0] + "://***"


def cannot_open(storage: str, error: BaseException) -> ConfigError:
    """The one line a command prints for a database it cannot open (a bad URL, a server that
    does not answer, a missing driver), password hidden; a missing driver names its package."""
    from sqlalchemy.exc import ArgumentError  # a URL SQLAlchemy cannot parse or has no dialect

    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    if isinstance(error, ImportError) and error.name == "psycopg2":
        reason += " (PostgreSQL's driver: `pip install psycopg2-binary`)"
    elif isinstance(error, ImportError):
        reason += " (install the database driver the URL names)"
    elif isinstance(error, (ArgumentError, ValueError)):  # no such dialect, a bad port...
        reason += f"; expected a URL such as {EXAMPLES}"
    return ConfigError(f"cannot open {mask_url(storage)}: {reason}", field="--storage")
