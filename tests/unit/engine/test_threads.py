"""``threads``: the one-thread sections put the thread pools back as they found them."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from stream_align.engine.threads import (
    TwoEnds,
    blas_on_one_thread,
    one_ahead,
    second_thread,
    second_threads,
)


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_on_one_thread_limits_blas_alone_and_restores_it() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before, torch_before = _blas_threads(), torch.get_num_threads()
        with blas_on_one_thread():
            assert _blas_threads() and all(n == 1 for n in _blas_threads())
            assert torch.get_num_threads() == torch_before  # torch's pool is left alone
        assert _blas_threads() == before


def test_one_ahead_keeps_the_order_and_runs_the_next_call_beside() -> None:
    """Results in the items' order; item ``i + 1``'s call runs on the second thread while the
    caller holds item ``i``'s result, and no more than one call is ahead."""
    started: list[int] = []
    names: set[str] = set()

    def fn(item: int) -> int:
        started.append(item)
        names.add(threading.current_thread().name)
        return item * item

    seen = []
    for got in one_ahead(fn, range(6), on=True):
        time.sleep(0.01)  # the next call has time to start, not the one after it
        seen.append((got, max(started)))
    assert [g for g, _ in seen] == [i * i for i in range(6)]
    assert all(ahead <= int(got ** 0.5) + 1 for got, ahead in seen)
    assert names and all(name.startswith("one-ahead") for name in names)
    assert list(one_ahead(fn, [], on=True)) == []
    assert list(one_ahead(fn, [3], on=False)) == [9]


def test_one_ahead_raises_a_call_error_and_waits_when_left_early() -> None:
    def fn(item: int) -> int:
        if item == 2:
            raise ValueError("two")
        return item

    with pytest.raises(ValueError, match="two"):
        list(one_ahead(fn, range(5), on=True))
    running = threading.Event()
    done = threading.Event()

    def slow(item: int) -> int:
        if item:
            running.set()
            time.sleep(0.05)
            done.set()
        return item

    gen = one_ahead(slow, range(3), on=True)
    assert next(gen) == 0
    running.wait(1)
    gen.close()  # the caller leaves: the running call is waited for
    assert done.is_set()


def test_second_thread_only_inside_second_threads_begun_with_torch_on_two() -> None:
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert not second_thread()  # outside a batch's second_threads
        with second_threads(True):
            assert second_thread()
            with second_threads(False):
                assert not second_thread()
            assert second_thread()
            torch.set_num_threads(1)  # a small batch's threads_for inside: still its own
            assert second_thread()
        assert not second_thread()
        with second_threads(True):  # begun on one thread: OMP_NUM_THREADS=1
            assert not second_thread()
    finally:
        torch.set_num_threads(before)


def _owner(ends: TwoEnds, n: int, hold: threading.Event | None = None) -> list[object]:
    """Walk ``n`` items as :class:`TwoEnds`' owner (item ``i``'s own value ``("own", i)``),
    held before its first item until ``hold`` is set."""
    ends.start(n, lambda i: ("helper", i))
    if hold is not None:
        hold.wait(5)
    return [("own", i) if ends.front(i) else ends.taken(i) for i in range(n)]


def test_two_ends_work_each_item_once_in_order() -> None:
    """A held owner leaves every item to the helper; a free one works them all; in both the
    values come back in order, one per item."""
    from concurrent.futures import ThreadPoolExecutor

    for held in (True, False):
        ends, hold = TwoEnds(), threading.Event()
        with ThreadPoolExecutor(1) as pool:
            owner = pool.submit(_owner, ends, 6, hold if held else None)
            if not held:
                owner.result()
            ends.help(owner)
            hold.set()
            values = owner.result()
        assert [v[1] for v in values] == list(range(6))
        assert {v[0] for v in values} == ({"helper"} if held else {"own"})


def test_two_ends_meet_in_the_middle_and_pass_a_helper_error() -> None:
    from concurrent.futures import ThreadPoolExecutor

    ends, hold = TwoEnds(), threading.Event()
    ends.start(4, lambda i: 1 / (i - 3))  # the helper's first item (3) fails
    assert ends.front(0)
    with ThreadPoolExecutor(1) as pool:
        done = pool.submit(hold.wait, 5)
        with pytest.raises(ZeroDivisionError):
            ends.help(done)
        hold.set()
    assert ends.front(1) and ends.front(2) and not ends.front(3)
    with pytest.raises(ZeroDivisionError):
        ends.taken(3)


def test_two_ends_help_returns_when_the_owner_failed_before_starting() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def fails() -> None:
        raise RuntimeError("owner")

    ends = TwoEnds()
    with ThreadPoolExecutor(1) as pool:
        owner = pool.submit(fails)
        ends.help(owner)  # returns: nothing was started
        with pytest.raises(RuntimeError):
            owner.result()
