"""Python's cyclic garbage collector kept off the engine's long-lived state.

The engine's state is millions of Python objects that live as long as the process (the mirrors,
samples, label and decision dicts). A full collection walks every tracked object, and CPython
starts one whenever the objects surviving younger collections have grown by a quarter — so a
bulk batch that builds the state from empty walked it again and again: 14 full collections,
about a quarter of the DBP15K zh_en backlog's time in process (decision 0038). A small batch
later could still stall on a full walk of the whole state.

So a batch runs with the collector off; at its end one collection looks at what is not frozen
(only the objects made since the last batch) and what survives is frozen (``gc.freeze``):
later collections skip it. Reference counting frees frozen objects as before; only a frozen
object that later dies inside a reference cycle is never reclaimed (the engine's state holds
arrays, dicts and tuples, not cycles).
"""

from __future__ import annotations

import atexit
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_survivors() -> float:
    """Collect what is not frozen, freeze what survives; the seconds it took."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


# at exit the frozen objects go back to the collector, so the interpreter's last collections
# free them (native bindings such as nanobind report what is still alive then as leaked)
atexit.register(gc.unfreeze)


@contextmanager
def collector_paused(stages: dict[str, float]) -> Iterator[None]:
    """No collection inside the block; at its end :func:`freeze_survivors` (``stages["gc_s"]``:
    its seconds)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        stages["gc_s"] = freeze_survivors()
        if enabled:
            gc.enable()
