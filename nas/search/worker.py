"""Entry point of an extra worker process: `python -m nas.search.worker K PARENT < config.json`.

PARENT is the pid of the search that started it: the worker ends when that process dies."""

from __future__ import annotations

import json
import sys

from nas._core import exit_with_parent
from nas._log import log_to_stderr

from .config import SearchConfig
from .runner import run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    index = int(argv[0])
    if len(argv) > 1:
        exit_with_parent(int(argv[1]))  # started by start_workers from the main thread
    log_to_stderr()  # into logs/worker-<k>.log: where its proxy data came from
    cfg = SearchConfig.from_dict(json.loads(sys.stdin.read()))
    # One process per GPU: inside this process the GPU it was given is cuda:0.
    device = cfg.device if not cfg.device.startswith("cuda:") else "cuda"
    run(cfg.replace(device=device), progress=False, worker_index=index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
