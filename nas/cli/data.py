"""nas-data cache list | clear [--older-than DAYS] [KEY ...]: the proxy-data cache.

Each entry is the decoded proxy subset of one data source (or the labels of Downsampled
ImageNet's batches), memory-mapped by every run that draws the same images. Entries are
never read once their source changes; they only take space until cleared. The folder is
$NAS_CACHE_DIR/proxy-data (default ~/.cache/nas/proxy-data).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from .common import EXIT_USAGE, ArgumentParser, non_negative_float, run

if TYPE_CHECKING:
    from nas.data.cache import CacheEntry


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="nas-data", description=__doc__.split("\n\n")[1].strip())
    commands = p.add_subparsers(dest="command", required=True)
    cache = commands.add_parser("cache", help="list or remove proxy-data cache entries")
    actions = cache.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every entry, the most recently used first")
    clear = actions.add_parser("clear", help="remove entries (all unless KEY or --older-than)")
    clear.add_argument("keys", nargs="*", metavar="KEY", help="entries to remove (or a prefix)")
    clear.add_argument(
        "--older-than",
        type=non_negative_float,
        metavar="DAYS",
        help="only entries not used for DAYS days",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return run("nas-data", _main, argv)


def _main(argv: list[str] | None) -> int:
    from nas.data.cache import cache_root, list_entries, remove_entry

    args = parser().parse_args(argv)
    folder, entries = cache_root(), list_entries()
    if args.action == "list":
        print(f"{len(entries)} entries, {_size(sum(e.bytes for e in entries))} in {folder}")
        for e in entries:
            print(_describe(e))
        return 0
    chosen = [e for e in entries if not args.keys or any(e.key.startswith(k) for k in args.keys)]
    unknown = [k for k in args.keys if not any(e.key.startswith(k) for e in entries)]
    if unknown:
        print(f"nas-data: error: no cache entry {', '.join(unknown)} in {folder}", file=sys.stderr)
        return EXIT_USAGE
    if args.older_than is not None:
        chosen = [e for e in chosen if time.time() - e.last_used > args.older_than * 86400]
    for e in chosen:
        remove_entry(e)
    print(f"removed {len(chosen)} entries ({_size(sum(e.bytes for e in chosen))}) from {folder}")
    return 0


def _describe(e: CacheEntry) -> str:
    used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.last_used))
    if not e.complete:
        return f"{e.key}  {_size(e.bytes):>9}  used {used}  incomplete (being built, or killed)"
    i = e.index
    what = f"{i.get('images')} images at {i.get('size')}px" if i.get("images") else i.get("what")
    bad = f", {len(i['bad'])} unreadable" if i.get("bad") else ""
    return f"{e.key}  {_size(e.bytes):>9}  used {used}  {i.get('source')}: {what}{bad}"


def _size(n: float) -> str:
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("KB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


if __name__ == "__main__":
    sys.exit(main())
