"""The IVF scan reads its owners' stored vectors once a batch within ``SCAN_BYTES``, and how it
reads them (whole lists in one copy, or chunks of owners read by id) changes no row it hands
to the repair (decision 0131)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine import ivf_lists
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.list_repair import FreshRows
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.index import IvfVectorIndex

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> AlignmentEngine:
    """An engine on IVF lists after the synthetic pair's stream (8 cells, 2 probed)."""
    pair = synthetic_pair(n=120, seed=2)
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings(
        candidate_index="ivf", ivf_train_min=80, ivf_cells=8, ivf_probe=2, ivf_float16=True))
    with open_store(tmp_path_factory.mktemp("scan") / "db") as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=4)))
        while engine.pending_count:
            run(store, engine, [])
    assert engine.lists.ivf
    return engine


def _scanned(engine: AlignmentEngine, s: int, nodes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What ``scan`` of side ``s``'s ``nodes`` hands the other side's repair: its rows, one a
    pair (the latest), and the short lists' owners."""
    fresh = FreshRows()
    ivf_lists.scan(engine.sides[s], engine.sides[1 - s], nodes, fresh)
    return (*fresh.latest(np.zeros(0, dtype=np.int64)), fresh.short_owners())


@pytest.mark.parametrize("s", [0, 1])
def test_owners_read_in_chunks_by_id_give_the_same_rows(engine: AlignmentEngine, s: int,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    nodes = engine.sides[s].indexed()
    whole = _scanned(engine, s, nodes)
    code = engine.sides[1 - s].index.code_bytes
    monkeypatch.setattr(ivf_lists, "SCAN_BYTES", 5 * code)  # chunks of 5 owners, read by id
    chunked = _scanned(engine, s, nodes)
    assert len(whole[0]) > 100
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)  # scores to the bit (NaN: a member that left)


def test_a_batch_reaching_every_cell_copies_the_side_once(engine: AlignmentEngine,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    reads: list[str] = []  # reads of the owners' side (side 0's changed vectors are read too)
    owners = engine.sides[1].index
    for name in ("stored_lists", "stored_many"):
        read = getattr(IvfVectorIndex, name)

        def counted(self: IvfVectorIndex, *args: object, _r=read, _n=name) -> object:
            out = _r(self, *args)
            if self is owners and out is not None:  # None: lists past the bound, not copied
                reads.append(_n)
            return out
        monkeypatch.setattr(IvfVectorIndex, name, counted)
    _scanned(engine, 0, engine.sides[0].indexed())
    assert reads == ["stored_lists"]
    reads.clear()
    monkeypatch.setattr(ivf_lists, "SCAN_BYTES", 5 * engine.sides[1].index.code_bytes)
    _scanned(engine, 0, engine.sides[0].indexed())
    assert len(reads) > 1 and set(reads) == {"stored_many"}  # a chunk a cell
