"""What every nas-* command shares: one-line errors and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable

from nas.space import ConfigError

EXIT_USAGE = 2


def run(prog: str, main: Callable[[list[str] | None], int], argv: list[str] | None) -> int:
    """Run `main`; user errors become one line on stderr instead of a traceback."""
    try:
        return main(argv)
    except ConfigError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
