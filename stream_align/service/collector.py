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

Then the heap's free pages go back to the operating system (``release_free_heap``). glibc keeps
what a batch freed — its score chunks, id arrays, delta rows — inside its heaps for reuse: an
array under the dynamic mmap threshold (which rises to 32 MiB once a large array is freed) is
carved from a heap, and a free range below a live block is never returned. A bulk load's
batches leave hundreds of MB there, and the next batch's transients land on top of them: the
load's peak RSS carries the earlier batches' garbage (decision 0050).

A small batch's transients are small, and the next batch needs them again: returned after every
batch, its ≈ 5,000 freed pages were faulted back in by the next one (DBP15K zh_en steady tail at
batches of 10: ≈ 12 ms of system CPU a call, ≈ 6 % of it). So the heap is trimmed only once the
resident set has grown by ``trim_above`` bytes since the last trim (``TRIM_ABOVE_BYTES``, the
service's ``runner.trim_heap_above_bytes``): a bulk batch's hundreds of MB still go back after
it, a steady batch's tens of MB stay for the next (decision 0107).

The service fixes the mmap threshold low for the bulk load (``fix_mmap_threshold``): a freed
array leaves RSS at once, which holds the load's peak (decision 0065); the engine raises it
only around a bulk refresh's fixed-size passes (``stream_align.heap``, decision 0134). After
the load the same threshold made every steady transient of 1 MiB or more a fresh mapping
faulted in page by page, call after call — a quarter of the DBP15K zh_en tail's CPU at 1,000
inserts/s — so once the load is done the service raises it and the heap's trim threshold
(``settle_allocator``, decision 0119).
"""

from __future__ import annotations

import atexit
import gc
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from stream_align.heap import fix_thresholds, libc_function


def freeze_survivors() -> float:
    """Collect what is not frozen, freeze what survives; the seconds it took."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


_TRIM = libc_function("malloc_trim")


def fix_mmap_threshold(size: int) -> bool:
    """Serve every allocation of at least ``size`` bytes by its own ``mmap``, returned to the
    OS when freed (``mallopt(M_MMAP_THRESHOLD)``; this also stops glibc raising the threshold
    to 32 MiB after a large free). A batch's freed arrays then leave RSS at once instead of
    staying in a heap under the batch's later transients until the trim after it. ``0``:
    glibc's dynamic threshold, untouched. Whether it was set."""
    return bool(size) and fix_thresholds(size, 0)


def settle_allocator(mmap_threshold: int, trim_threshold: int) -> bool:
    """The allocator for the steady state after a bulk load (decision 0119): allocations below
    ``mmap_threshold`` bytes come from the heap, where their pages stay for the next call
    instead of being mapped and faulted in afresh each time, and the heap's top is given back
    by ``free`` only past ``trim_threshold`` free bytes (``mallopt`` ``M_MMAP_THRESHOLD`` and
    ``M_TRIM_THRESHOLD``; ``0`` leaves that one as it is). The bulk load's fixed low threshold
    (:func:`fix_mmap_threshold`) holds its peak; after it, a steady call's transients are the
    same sizes call after call and the faults were a quarter of its CPU. Whether glibc took
    every value given (``False`` where there is no ``mallopt``, e.g. musl)."""
    return fix_thresholds(mmap_threshold, trim_threshold)


TRIM_ABOVE_BYTES = 64 << 20
"""Default growth of the resident set since the last trim that makes a batch trim the heap."""
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_trimmed_at: list[int] = [0]  # RSS just after the last trim (0: none yet), process-wide


def resident_bytes() -> int:
    """The process's resident set (``/proc/self/statm``), or 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def release_free_heap(above: int = 0) -> float | None:
    """Return every free page of the process's heaps to the OS (``malloc_trim(0)``: all arenas,
    free pages inside them too, not only the top); the seconds it took (≈ 1 ms). With
    ``above``: only where the resident set has grown by more than ``above`` bytes since the
    last trim (or none was made, or it cannot be read); ``None`` when it was left alone."""
    started = time.perf_counter()
    if above > 0 and _trimmed_at[0]:
        resident = resident_bytes()
        if resident and resident - _trimmed_at[0] <= above:
            return None
    if _TRIM is not None:
        _TRIM(0)
    _trimmed_at[0] = resident_bytes()
    return time.perf_counter() - started


# at exit the frozen objects go back to the collector, so the interpreter's last collections
# free them (native bindings such as nanobind report what is still alive then as leaked)
atexit.register(gc.unfreeze)


@contextmanager
def collector_off() -> Iterator[None]:
    """No collection inside the block, and none at its end: what it made is collected (and
    frozen) by the next :func:`collector_paused` (a poll's records, decoded as they come,
    belong to the batch that follows it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def collector_paused(stages: dict[str, float], trim: bool = True,
                     trim_above: int = TRIM_ABOVE_BYTES) -> Iterator[None]:
    """No collection inside the block; at its end :func:`freeze_survivors` (``stages["gc_s"]``:
    its seconds) and, with ``trim``, :func:`release_free_heap` above ``trim_above``
    (``stages["trim_s"]``: its seconds, 0 where the heap was left alone)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        stages["gc_s"] = freeze_survivors()
        if trim:
            stages["trim_s"] = release_free_heap(trim_above) or 0.0
        if enabled:
            gc.enable()
