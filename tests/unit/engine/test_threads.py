"""``threads``: the one-thread sections put the thread pools back as they found them."""

from __future__ import annotations

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from stream_align.engine.threads import blas_on_one_thread


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_blas_on_one_thread_limits_blas_alone_and_restores_it() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before, torch_before = _blas_threads(), torch.get_num_threads()
        with blas_on_one_thread():
            assert _blas_threads() and all(n == 1 for n in _blas_threads())
            assert torch.get_num_threads() == torch_before  # torch's pool is left alone
        assert _blas_threads() == before
