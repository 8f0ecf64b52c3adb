"""What every layer of nas shares and none owns: the error every command prints as one line,
files replaced atomically, the lock their writers take turns under, helper processes that
end with their parent and database URLs (`urls`: `--storage` of the search and the run
tables). Imports no other nas package, nor torch or Optuna."""

from .errors import ConfigError, NasError
from .io import write_atomic, write_text_atomic
from .lock import locked
from .orphans import exit_with_parent

__all__ = [
    "ConfigError",
    "NasError",
    "exit_with_parent",
    "locked",
    "write_atomic",
    "write_text_atomic",
]
