"""The log lines of nas's own loggers (`nas.*`: the proxy data's cache, say) on stderr.

Every command calls `log_to_stderr()` (in `nas.cli.common.run`), and so do worker processes;
as a library nas shows no INFO lines unless the application configures logging. Library code
never prints (`tests/test_structure.py`): progress, warnings and waits are log lines of the
module's logger, `logging.getLogger(__name__)`, under the one `nas` logger. The stream is
looked up at each line, so a test that swaps sys.stderr still sees them.
"""

from __future__ import annotations

import logging
import sys


class _Stderr(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # a closed stream must not stop the work
            self.handleError(record)


def log_to_stderr(level: int = logging.INFO) -> None:
    """Show `nas.*` log lines of `level` and above as bare lines on stderr (once per process)."""
    logger = logging.getLogger("nas")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
    logger.setLevel(level)
