"""The IVF index: searches rank exactly the probed cells' vectors; replace and remove by id;
the probers structure stays equal to a brute-force map under random changes."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.engine.probers import CellProbers
from stream_align.index import IvfVectorIndex, auto_cells, train_quantiser
from stream_align.index.ivf_index import WIDEN_MIN, as_float32, widened


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("float16", [False, True])
def test_search_ranks_exactly_the_probed_cells_and_follows_replacements(float16: bool) -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng.normal(size=(600, 12)))
    centroids = train_quantiser(x, 16)
    index = IvfVectorIndex(centroids, nprobe=3, float16=float16)
    ids = np.arange(600, dtype=np.int64) * 2
    index.add(ids, x)
    moved = ids[:50]
    x[:50] = _unit(rng.normal(size=(50, 12)))
    index.add(moved, x[:50])  # replace: a vector may change cell
    stored = index.reconstruct_many(ids)  # half floats: what every search ranks
    np.testing.assert_allclose(stored, x, atol=1e-3 if float16 else 1e-7)
    assert np.array_equal(index.reconstruct_many(ids[:3]), stored[:3])
    if float16:
        assert not np.array_equal(stored, x)
        x = stored  # the vectors the index holds (a cell depends on the vector as given)
    assert index.remove(ids[50:60]) == 10 and len(index) == 590
    alive = np.ones(600, bool)
    alive[50:60] = False
    cells = index.cells_of(ids)
    assert (cells[~alive] == -1).all()
    if not float16:
        assert (cells[alive] == np.argmax(x[alive] @ centroids.T, axis=1)).all()
    q = _unit(rng.normal(size=(20, 12)))
    scores, found = index.search(q, 5)
    _, probed = index.probe(q)
    for row in range(20):
        eligible = np.flatnonzero(alive & np.isin(cells, probed[row]))
        best = eligible[np.argsort(-(x[eligible] @ q[row]))[:5]]
        assert found[row].tolist() == ids[best].tolist()
        np.testing.assert_allclose(scores[row], x[best] @ q[row], rtol=1e-5)


def test_auto_cells_is_a_power_of_two_near_four_root_n() -> None:
    assert auto_cells(10) == 16
    assert auto_cells(40_000) == 1024  # 4·200 = 800 → 1024
    assert auto_cells(2_000_000) == 4096  # 4·1414 = 5657 → 4096


def test_probers_match_a_brute_force_map() -> None:
    """After every set or drop (of one node or most of them, cells padded with ``-1``): each
    cell's members, each node's cells, and each node's slot in each of its cells."""
    rng = np.random.default_rng(1)
    probers, truth = CellProbers(nlist=7, nprobe=3), {}
    for _ in range(300):
        nodes = rng.choice(40, size=rng.integers(1, 30), replace=False).tolist()
        if rng.random() < 0.3:
            probers.drop(nodes)
            for n in nodes:
                truth.pop(n, None)
        else:
            cells = np.stack([rng.choice(7, 3, replace=False) for _ in nodes])
            cells[rng.random(cells.shape) < 0.1] = -1
            probers.set(nodes, cells)
            truth.update({n: set(c[c >= 0].tolist()) for n, c in zip(nodes, cells,
                                                                     strict=True)})
        for cell in range(7):
            assert sorted(probers.of(cell).tolist()) == sorted(n for n, c in truth.items()
                                                               if cell in c)
        for n in range(40):
            assert set(probers.cells(n).tolist()) == truth.get(n, set())
            for cell in probers.cells(n).tolist():
                slot = probers._slots[n][probers._cells[n] == cell][0]
                assert probers.of(cell)[slot] == n


@pytest.mark.parametrize("nlist", [7, 32_768, 40_000])
def test_probers_group_each_cell_in_the_given_order(nlist: int) -> None:
    """A cell's members in the order given (a stable grouping: 16-bit radix where the cells
    fit, else a stable sort of the cells as given), slots pointing back at them."""
    rng = np.random.default_rng(5)
    span = min(nlist, 50)  # the highest cells: past 16 bits where nlist is
    cells = np.stack([rng.choice(span, 4, replace=False) for _ in range(200)]) + nlist - span
    cells[rng.random(cells.shape) < 0.1] = -1
    probers = CellProbers(nlist=nlist, nprobe=4)
    nodes = rng.permutation(300)[:200]
    probers.set(nodes.tolist(), cells)
    for cell in np.unique(cells[cells >= 0]).tolist():
        assert probers.of(cell).tolist() == nodes[(cells == cell).any(axis=1)].tolist()
    assert np.array_equal(probers.rows(nodes), cells)


def _with_subnormals(rng: np.random.Generator, n: int, float16: bool
                     ) -> tuple[IvfVectorIndex, np.ndarray]:
    """An index of ``n`` unit vectors under sparse ids, a tenth with tiny coordinates (half-float
    subnormals); its ids in the order added."""
    x = _unit(rng.normal(size=(n, 16)))
    x[:n // 10, :4] = rng.normal(size=(n // 10, 4)) * 1e-6
    index = IvfVectorIndex(train_quantiser(x, 8), nprobe=2, float16=float16)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    index.add(ids, x)
    return index, ids


@pytest.mark.parametrize("float16", [False, True])
def test_many_vectors_are_read_from_the_lists_to_the_bit(float16: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``reconstruct_many`` reads many ids from the lists' codes as arrays (decision 0068):
    the same bits as FAISS's own decoder — tiny coordinates (half-float subnormals) included —
    after replacements and removals, and an absent id is refused as FAISS refuses it.
    ``stored_many`` gives the codes' own type (half floats with ``float16``: half the bytes a
    scoring group holds, decision 0121) on both paths, widened to the same bits."""
    rng = np.random.default_rng(3)
    index, ids = _with_subnormals(rng, 500, float16)
    x = index.reconstruct_many(ids[:6])
    index.add(ids[:60], _unit(rng.normal(size=(60, 16))))
    index.remove(ids[100:130])
    kept = np.concatenate([ids[:100], ids[130:]])[rng.permutation(470)]
    expected = index.reconstruct_many(kept)  # below READ_MIN: FAISS's decoder
    stored = [index.stored_many(kept)]
    monkeypatch.setattr("stream_align.index.ivf_index.READ_MIN", 1)
    read = index.reconstruct_many(kept)
    assert read.dtype == np.float32 and np.array_equal(read.view(np.int32),
                                                       expected.view(np.int32))
    stored.append(index.stored_many(kept))
    for half in stored:
        assert half.dtype == (np.float16 if float16 else np.float32)
        assert np.array_equal(half.astype(np.float32).view(np.int32), expected.view(np.int32))
    assert index.stored_many(ids[:0]).shape == (0, 16)
    index.add(ids[125:131], x[:6])  # a change: the layout is read again
    monkeypatch.setattr("stream_align.index.ivf_index.READ_MIN", 10**9)
    expected = index.reconstruct_many(ids[125:140])
    monkeypatch.setattr("stream_align.index.ivf_index.READ_MIN", 1)
    assert np.array_equal(index.reconstruct_many(ids[125:140]), expected)
    with pytest.raises(KeyError):
        index.reconstruct_many(ids[100:102])


@pytest.mark.parametrize("float16", [False, True])
def test_lists_read_again_only_where_changed_stay_to_the_bit(float16: bool,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """After each round of replacements, removals and new ids (a few cells' lists, or more
    changes than lists: every list read again), codes read from the lists equal FAISS's
    decoder's for every stored id (decision 0072)."""
    rng = np.random.default_rng(4)
    x = _unit(rng.normal(size=(400, 16)))
    index = IvfVectorIndex(train_quantiser(x, 16), nprobe=2, float16=float16)
    index.add(np.arange(400, dtype=np.int64), x)
    stored = set(range(400))
    for changes in (3, 9, 40, 1, 25):
        monkeypatch.setattr("stream_align.index.ivf_index.READ_MIN", 1)
        index.reconstruct_many(np.array(sorted(stored), dtype=np.int64))  # the layout read
        alive = np.array(sorted(stored), dtype=np.int64)
        index.remove(rng.choice(alive, changes, replace=False))
        fresh = np.arange(changes, dtype=np.int64) + 1000 + 100 * changes
        moved = rng.choice(alive, changes, replace=False)
        both = np.unique(np.concatenate([fresh, moved]))
        index.add(both, _unit(rng.normal(size=(len(both), 16))))
        stored = set(index.ids().tolist())
        every = np.array(sorted(stored), dtype=np.int64)[rng.permutation(len(stored))]
        read = index.reconstruct_many(every)
        monkeypatch.setattr("stream_align.index.ivf_index.READ_MIN", 10**9)
        expected = index.reconstruct_many(every)
        assert np.array_equal(read.view(np.int32), expected.view(np.int32))



@pytest.mark.parametrize("float16", [False, True])
@pytest.mark.parametrize("widen_min", [0, 1 << 30])
def test_lists_holding_ids_copied_whole_equal_the_reads_by_id(
        float16: bool, widen_min: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``stored_lists(ids)`` (every vector of the lists holding ``ids``, list after list,
    decisions 0120, 0125) holds each of ``ids``' codes to the bit at its row, and widened they
    are FAISS's decoded vectors — half-float subnormals, replacements, removals, a re-read
    layout, torch's widening and numpy's included; it holds exactly the vectors of those
    lists, and none where they hold more than the bound given; an absent id raises."""
    monkeypatch.setattr("stream_align.index.ivf_index.WIDEN_MIN", widen_min)
    rng = np.random.default_rng(5)
    index, _ = _with_subnormals(rng, 300, float16)
    for round_ in range(3):
        stored = index.ids()
        some = rng.choice(stored, 7 + 40 * round_, replace=False)
        whole = index.stored_lists(some)
        assert whole is not None
        codes, rows = whole
        assert codes.dtype == (np.float16 if float16 else np.float32)
        assert np.array_equal(codes[rows], index.stored_many(some))
        expected = index.reconstruct_many(some)  # below READ_MIN: FAISS's decoder
        assert np.array_equal(as_float32(codes[rows]).view(np.int32), expected.view(np.int32))
        lists = np.isin(index.cells_of(stored), index.cells_of(some))
        assert len(codes) == np.count_nonzero(lists)
        assert index.stored_lists(some, len(codes) - 1) is None  # past the bound: no copy
        assert np.array_equal(index.stored_lists(some, len(codes))[0], codes)
        assert np.array_equal(np.sort(as_float32(codes).view(np.int32), axis=0),
                              np.sort(index.reconstruct_many(stored[lists]).view(np.int32),
                                      axis=0))
        index.add(stored[:20 + round_], _unit(rng.normal(size=(20 + round_, 16))))
        index.remove(stored[50 + 10 * round_:55 + 10 * round_])
    with pytest.raises(KeyError):
        index.stored_lists(np.array([10**7], dtype=np.int64))


def test_half_floats_widened_by_torch_equal_numpy_to_the_bit() -> None:
    """``widened`` above ``WIDEN_MIN`` (torch's conversion) gives numpy's float32 of every half
    float: all 65,536 bit patterns but the NaNs (whose payloads neither promises), so
    subnormals, signed zeros and infinities."""
    half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    half = np.tile(half[~np.isnan(half)], 2).reshape(-1, 2)
    assert half.size >= WIDEN_MIN
    assert np.array_equal(widened(half).view(np.int32), half.astype(np.float32).view(np.int32))
