"""Live progress of a search: candidates k/N, best accuracy, Pareto size, elapsed / ETA.

A tqdm bar on a terminal; one plain line per finished trial otherwise (logs, CI), so progress is
visible either way. Counts come from the storage, so the display covers every worker.
"""

from __future__ import annotations

import logging
import sys
import time

from tqdm import tqdm

from nas.cost import format_amount

from .results import Counts

log = logging.getLogger(__name__)


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    return (f"{h}:" if h else "") + f"{rem // 60:02d}:{rem % 60:02d}"


class Progress:
    def __init__(
        self,
        *,
        label: str,
        total: int,
        timeout: float | None,
        enabled: bool = True,
        already: int = 0,
    ):
        self.total = total
        self.timeout = timeout
        self.enabled = enabled
        self.start = time.monotonic()
        self.already = already  # candidates evaluated before this invocation
        self.done = already
        self.best: float | None = None
        self.front = 0
        self.current = ""
        self.tty = enabled and sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            initial=min(already, total),
            desc=label,
            unit="cand",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=not self.tty,
            bar_format="{desc} {n_fmt}/{total_fmt} [{bar:24}]{postfix}",
        )
        self._refresh()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def eta(self) -> float | None:
        new = self.done - self.already
        if new <= 0:
            return None
        eta = (self.total - self.done) * self.elapsed / new
        if self.timeout is not None:
            eta = min(eta, self.timeout - self.elapsed)
        return max(eta, 0.0)

    def _status(self) -> str:
        eta = self.eta()
        parts = [
            f"{_clock(self.elapsed)}<{_clock(eta) if eta is not None else '?'}",
            f"best acc {self.best:.4f}" if self.best is not None else "best acc -",
            f"pareto {self.front}",
        ]
        if self.current:
            parts.append(self.current)
        return " | ".join(parts)

    def _refresh(self) -> None:
        if self.tty:
            self.bar.n = min(self.done, self.total)
            self.bar.set_postfix_str(self._status())

    def trial_started(self, number: int, flops: int, summary: str) -> None:
        self.current = f"#{number} {format_amount(flops)} training"
        self._refresh()

    def epoch(
        self, number: int, epoch: int, epochs: int, accuracy: float, *, seed: int = 0
    ) -> None:
        again = f" seed {seed + 1}" if seed else ""
        self.current = f"#{number}{again} epoch {epoch}/{epochs} acc {accuracy:.3f}"
        self._refresh()

    def trial_finished(self, line: str, counts: Counts, *, best: float | None, front: int) -> None:
        self.done, self.best, self.front, self.current = counts.evaluated, best, front, ""
        if self.tty:
            self.bar.write(line, file=sys.stderr)
            self._refresh()
        elif self.enabled:
            log.info("[%d/%d %s] %s", min(self.done, self.total), self.total, self._status(), line)

    def message(self, text: str) -> None:
        if self.tty:
            self.bar.write(text, file=sys.stderr)
        elif self.enabled:
            log.info("%s", text)

    def close(self) -> None:
        self.bar.close()
