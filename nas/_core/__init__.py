"""What every layer of nas shares and none owns: the error every command prints as one line,
files replaced atomically and the lock their writers take turns under. Imports no other nas
package, nor torch or Optuna."""

from .errors import ConfigError, NasError
from .io import write_atomic, write_text_atomic
from .lock import locked

__all__ = ["ConfigError", "NasError", "locked", "write_atomic", "write_text_atomic"]
