"""Claims on the runs of a table, so that batches sharing one table (two `nas-compare` on the
same `--out`) share its runs instead of each training all of them.

A batch claims a run under the table's lock just before training it, unless the table got a
record of it since the batch read the table, or a live owner holds it. A claim names its owner
(host, pid, a token per batch) and a heartbeat time the owner refreshes every HEARTBEAT_S. A
claim whose owner is dead is taken over, as the search's heartbeat fails the trials of dead
workers: at once when its pid is gone on this host, else once its heartbeat is GRACE_S old
(another host, or a pid reused). The claims live in the table's store: beside the file
(`runs.jsonl.claims`, rewritten atomically; the file goes when its last claim is released), or
in the database beside the records, so batches on several machines share one table's runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from .runs import RunKey, RunRequest
from .store import StorageError
from .table import RunTable

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0  # s between refreshes of a batch's claims
GRACE_S = 150.0  # s without a refresh after which a claim's owner counts as dead
POLL_S = 2.0  # s between looks at runs another live batch is training

Claim = dict[str, Any]  # {"token", "host", "pid", "time"}
Taken = Literal["mine", "done", "held"]


class Claims:
    """This batch's claims on `table`; a context manager that beats the heartbeat while it is
    open and releases every claim still held when it closes. `host`/`pid` name the owner
    (default: this process)."""

    def __init__(
        self,
        table: RunTable,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        host: str | None = None,
        pid: int | None = None,
    ):
        self.table = table
        self.store = table.store
        self.owner: Claim = {
            "token": uuid.uuid4().hex[:12],
            "host": host or socket.gethostname(),
            "pid": os.getpid() if pid is None else pid,
        }
        self.heartbeat_s = heartbeat_s
        self.mine: set[RunKey] = set()
        self._written: Counter[RunKey] = Counter()  # records per key in the table
        self._cursor = 0  # where the lines counted so far end (the store's cursor)
        self._count_new()
        self._found = Counter(self._written)  # the table as the batch found it
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # --- taking and releasing ----------------------------------------------------------------

    def take(self, key: RunKey) -> Taken:
        """Claim `key`: "mine" (claimed now, or already this batch's), "done" (the table got
        a record of it since this batch read it) or "held" (a live owner trains it)."""
        with self.store.locked():
            self._count_new()
            if key not in self.mine and self._written[key] > self._found[key]:
                return "done"  # another batch trained it since this one read the table
            claims = self._read()
            held = claims.get(_name(key))
            if held and held["token"] != self.owner["token"] and not is_stale(held):
                return "held"
            if held and held["token"] != self.owner["token"]:
                log.info(
                    "taking over run %s of %s: its owner %s:%s is gone",
                    _name(key),
                    self.table.where,
                    held["host"],
                    held["pid"],
                )
            claims[_name(key)] = {**self.owner, "time": time.time()}
            self._write(claims)
            self.mine.add(key)
            return "mine"

    def release(self, key: RunKey) -> None:
        """Give up the claim on `key` (its record is in the table, or it will not be run)."""
        self.mine.discard(key)
        with self.store.locked():
            claims = self._read()
            if claims.get(_name(key), {}).get("token") == self.owner["token"]:
                del claims[_name(key)]
                self._write(claims)

    def holders(self, keys: list[RunKey]) -> list[str]:
        """`host:pid` of the owners that hold `keys` now."""
        claims = self._read()
        return sorted({f"{c['host']}:{c['pid']}" for k in keys if (c := claims.get(_name(k)))})

    def beat(self) -> None:
        """Refresh the heartbeat of this batch's claims (those no one took over)."""
        with self.store.locked():
            claims = self._read()
            now = time.time()
            for key in self.mine:
                claim = claims.get(_name(key))
                if claim and claim["token"] == self.owner["token"]:
                    claim["time"] = now
            self._write(claims)

    # --- the heartbeat -----------------------------------------------------------------------

    def __enter__(self) -> Claims:
        self._stop.clear()
        self._beat = threading.Thread(target=self._beating, name="nas-claims", daemon=True)
        self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        with self.store.locked():
            claims = self._read()
            for key in self.mine:
                if claims.get(_name(key), {}).get("token") == self.owner["token"]:
                    del claims[_name(key)]
            self._write(claims)
        self.mine.clear()

    def _beating(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            if self.mine:
                try:
                    self.beat()
                # a full disk, a database gone away: the claims may be taken over, no worse
                except (OSError, StorageError) as e:
                    log.warning("could not refresh the claims of %s: %s", self.table.where, e)

    # --- the store -------------------------------------------------------------------------

    def _count_new(self) -> None:
        """Count the records appended to the table since the last look (whole lines only: a
        torn line of a killed writer is skipped, as the table's reader skips it)."""
        chunk = self.store.read(self._cursor)
        if chunk.afresh:  # the table was replaced: count afresh
            self._written.clear()
        for line in chunk.lines:
            try:
                row = json.loads(line)
                self._written[(row["arch_id"], row["fidelity_id"], row["seed"])] += 1
            except (ValueError, KeyError, TypeError):
                continue
        self._cursor = chunk.end

    def _read(self) -> dict[str, Claim]:
        return self.store.read_claims()

    def _write(self, claims: dict[str, Claim]) -> None:
        self.store.write_claims(claims)


def is_stale(claim: Claim, *, now: float | None = None, grace_s: float = GRACE_S) -> bool:
    """Whether a claim's owner is dead: its pid gone on this host, or no heartbeat for
    `grace_s` (the only sign from another host, and the answer to a reused pid)."""
    now = time.time() if now is None else now
    if now - float(claim.get("time", 0)) > grace_s:
        return True
    return claim.get("host") == socket.gethostname() and not _alive(int(claim.get("pid", 0)))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _name(key: RunKey) -> str:
    return "|".join(map(str, key))


class ClaimedQueue:
    """The requests a batch has left, in order; each is claimed as it is handed out, so runs
    another live batch trains are passed over (and waited for), those it finished dropped."""

    def __init__(
        self,
        requests: list[RunRequest],
        claims: Claims,
        *,
        on_done_elsewhere: Callable[[RunRequest], None] | None = None,
    ):
        self.todo = list(requests)
        self.claims = claims
        self.on_done_elsewhere = on_done_elsewhere
        self._told = False

    def take(self) -> RunRequest | None:
        """The first request left that this batch may train now, claimed; None when every
        one left is held by another live batch, or none is left."""
        i = 0
        while i < len(self.todo):
            request = self.todo[i]
            taken = self.claims.take(request.key)
            if taken == "held":
                i += 1
                continue
            del self.todo[i]
            if taken == "mine":
                return request
            if self.on_done_elsewhere is not None:
                self.on_done_elsewhere(request)
        return None

    def again(self, request: RunRequest) -> None:
        """Hand `request` out again first (its worker died; the claim is still this batch's)."""
        self.todo.insert(0, request)

    def wait(self) -> None:
        """Sleep a while: every run left is being trained by another batch."""
        if not self._told:
            self._told = True
            log.info(
                "waiting for %d run(s) another batch on %s is training (%s)",
                len(self.todo),
                self.claims.table.where,
                ", ".join(self.claims.holders([r.key for r in self.todo])) or "finishing",
            )
        time.sleep(POLL_S)
