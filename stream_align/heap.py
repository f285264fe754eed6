"""glibc's allocator thresholds: fixed by the service, raised around the engine's fixed-size passes.

The service fixes glibc's mmap threshold low for a bulk load (1 MiB, decision 0065): an array
of that size or more gets its own mapping and leaves RSS when freed, so arrays that grow with
the graphs do not stay in the heap under the load's later transients — which holds the load's
peak. The same rule makes each of a bulk refresh's fixed-size passes — a block of 16,384
pairs' attention and pair-head features, a chunk of vectors encoded — a fresh mapping that is
faulted in page by page and given back when the pass ends, pass after pass: most of the
DBP15K zh_en backlog's page faults, whose system time was a fifth of the service's CPU
(decision 0134).

So the engine runs those passes inside :func:`passes_reuse_heap`: while it lasts, the mmap
threshold is at least :data:`PASS_MMAP_BYTES` and the trim threshold at least
:data:`PASS_TRIM_BYTES`, so a pass's freed blocks stay in the heap and the next pass of the same
shape takes them again, pages and all; on leaving, the thresholds the service fixed are put
back. The heap then keeps what a scoring group's or a recompute chunk's passes freed, which is
bounded by their shape, not by the graphs (the load's peak rose ≈ 100 MB at 40K and at 80K a
side alike, decision 0134); the batch's trim, ``service.collector.release_free_heap``, returns
it. Where nobody fixed a threshold (a
benchmark under glibc's own dynamic thresholds) or there is no glibc, it does nothing: glibc's
dynamic rule cannot be put back once a threshold is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
"""glibc's ``mallopt`` parameters."""
GLIBC_DEFAULT_BYTES = 128 << 10
"""Both thresholds' values before any is set; once one is fixed glibc stops adapting either."""
PASS_MMAP_BYTES = 8 << 20
"""The mmap threshold inside a pass: above a pass's blocks (the largest, a block's attention
weights, ≈ 6.5 MB at 16,384 pairs and ``k = 10``) and below the arrays that grow with the
graphs at the sizes where memory matters."""
PASS_TRIM_BYTES = 64 << 20
"""The trim threshold inside a pass: glibc's 128 KiB gave a freed block at the heap's top back
at once, and the next pass faulted it in again."""


def libc_function(name: str) -> Callable[..., int] | None:
    """A glibc function (None elsewhere, e.g. musl: then the allocator is left alone)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return getattr(libc, name, None)


MALLOPT = libc_function("mallopt")
MALLOC_TRIM = libc_function("malloc_trim")
_fixed: dict[int, int] = {}  # parameter -> the value last fixed through this module


def fix_thresholds(mmap_threshold: int, trim_threshold: int) -> bool:
    """Fix glibc's mmap threshold and trim threshold (``0`` leaves that one as it is); whether
    glibc took every value given (``False`` where there is no ``mallopt``)."""
    if MALLOPT is None:
        return False
    taken = [_set(param, size) for param, size in
             ((M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold)) if size]
    return all(taken)


def _set(param: int, size: int) -> bool:
    if MALLOPT is None or not MALLOPT(param, int(size)):
        return False
    _fixed[param] = int(size)
    return True


@contextmanager
def passes_reuse_heap() -> Iterator[None]:
    """Fixed-size passes inside this block reuse the heap's pages (see the module): the
    thresholds fixed through :func:`fix_thresholds` raised to the pass floors while it lasts,
    then put back. Nothing where none was fixed or both already are as high."""
    floors = {M_MMAP_THRESHOLD: PASS_MMAP_BYTES, M_TRIM_THRESHOLD: PASS_TRIM_BYTES}
    before = {param: _fixed.get(param, GLIBC_DEFAULT_BYTES) for param in floors} \
        if _fixed else {}
    raised = [param for param, size in before.items()
              if size < floors[param] and _set(param, floors[param])]
    try:
        yield
    finally:
        for param in raised:
            _set(param, before[param])


def give_back_pass_pages() -> bool:
    """After a bulk refresh's scoring groups, the heap's free pages back to the OS
    (``malloc_trim(0)``: free ranges inside the heap too, not only its top) — only where
    :func:`passes_reuse_heap` raises the thresholds (the load's low ones fixed). The passes'
    freed blocks stay in the heap between passes, and blocks kept from a pass lie above them:
    ≈ 170 MB at 40K and at 60K a side that stayed resident through the scores stage's join of
    its changed pairs, the decisions and the events, until the batch's trim (decision 0138).
    The steady state's thresholds keep their heap for the next call (decision 0119): nothing
    then. Whether it trimmed."""
    floors = {M_MMAP_THRESHOLD: PASS_MMAP_BYTES, M_TRIM_THRESHOLD: PASS_TRIM_BYTES}
    raised = _fixed and any(_fixed.get(param, GLIBC_DEFAULT_BYTES) < floor
                            for param, floor in floors.items())
    if not raised or MALLOC_TRIM is None:
        return False
    MALLOC_TRIM(0)
    return True
