"""The log lines of nas's own loggers (`nas.*`: the proxy data's cache, say) on stderr.

Commands and worker processes call `log_to_stderr()`; as a library nas logs nothing unless
the application configures logging. The stream is looked up at each line, so a test that
swaps sys.stderr still sees them.
"""

from __future__ import annotations

import logging
import sys


class _Stderr(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(self.format(record), file=sys.stderr, flush=True)
        except Exception:  # a closed stream must not stop the work
            self.handleError(record)


def log_to_stderr(level: int = logging.INFO) -> None:
    """Show `nas.*` log lines of `level` and above as bare lines on stderr (once per process)."""
    logger = logging.getLogger("nas")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        logger.addHandler(_Stderr())
    logger.setLevel(level)
