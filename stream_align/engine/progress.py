"""Progress reports from long engine work, so its caller can show that work is going on.

A bulk micro-batch or a restore runs for tens of seconds to minutes inside one call; a caller
that watches for life (the service's liveness probe) would otherwise see nothing until it
returns. The engine stays pure: it takes a plain callable ``progress(stage, done, total)`` and
calls it between chunks of work — a few hundred times per bulk batch, so its cost is nothing
beside the chunks. ``total`` is 0 where the amount is not known in advance (store scans).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Progress = Callable[[str, int, int], None]
Beat = Callable[[], None]
"""A report with nothing new to say: between the steps of one long chunk."""
T = TypeVar("T")
SCAN_REPORT_EVERY = 10_000
"""Items between two reports of a store scan (a few milliseconds of work each)."""


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: nobody is watching (tests, batch runs, benchmarks)."""


def no_beat() -> None:
    """The default :data:`Beat`."""


def chunks(starts: range, progress: Progress, stage: str) -> Iterator[int]:
    """The chunk starts of ``range(0, n, size)``, reporting before each chunk and at the end."""
    total = len(starts)
    for done, start in enumerate(starts):
        progress(stage, done, total)
        yield start
    progress(stage, total, total)


def counted(items: Iterable[T], progress: Progress, stage: str, total: int = 0) -> Iterator[T]:
    """The items of a scan (``total`` 0: of unknown length), reporting at the start, every
    :data:`SCAN_REPORT_EVERY` items and at the end."""
    progress(stage, 0, total)
    done = 0
    for done, item in enumerate(items, 1):
        if done % SCAN_REPORT_EVERY == 0:
            progress(stage, done, total)
        yield item
    progress(stage, done, total)
