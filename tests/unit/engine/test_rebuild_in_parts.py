"""An IVF rebuild sets each search chunk's lists as it is searched (decision 0133): the lists,
their reverse, the CSLS heads, the rows to store, the pair scores, the decisions and the
tables' sizes are those of setting every list of a side at once, as before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine import ivf_lists
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.list_repair import Found
from stream_align.eval.replay import ReplayOrder, triple_changes

torch.set_num_threads(1)
IVF = {"candidate_index": "ivf", "ivf_train_min": 80, "ivf_cells": 8, "ivf_probe": 2}


def _state(engine: AlignmentEngine, rows: list[list[str]]) -> dict[str, object]:
    """Everything a rebuild's list writes reach, read back."""
    out: dict[str, object] = {"alignment": engine.final_alignment(), "rows": rows,
                              "book": [a.tolist() for a in engine.book.arrays()]}
    for s, side in enumerate(engine.sides):
        nodes = np.arange(len(side.graph.keys), dtype=np.int64)
        members, scores, lengths = side.lists.rows(nodes)
        at, holders = side.listed_by.of(nodes)
        out[f"lists{s}"] = (members.tolist(), scores.tolist(), lengths.tolist(),
                            side.bounds(nodes).tolist())
        out[f"heads{s}"] = [side.cands.get(n, ()) for n in nodes.tolist()]
        out[f"hubs{s}"] = side.lists.hubs(nodes).tolist()
        out[f"listed_by{s}"] = sorted(zip(at.tolist(), holders.tolist(), strict=True))
        out[f"bytes{s}"] = side.lists.nbytes()  # grown once, not by doubling chunk by chunk
    return out


def _run(tmp_path: Path, whole: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The stream in bulk batches (every list rebuilt each refresh), a rebuild's searches in
    chunks of 16; ``whole``: each side's chunks concatenated and set at once."""
    monkeypatch.setattr(ivf_lists, "CHUNK", 16)
    parts = ivf_lists.searched_parts
    if whole:
        monkeypatch.setattr(ivf_lists, "searched_parts",
                            lambda *a, **k: iter([Found.concat(list(parts(*a, **k)))]))
    pair = synthetic_pair(n=120, seed=5)
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings(**IVF))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=2))
    stored: list[list[str]] = []
    with open_store(tmp_path / ("whole" if whole else "parts")) as store:
        for start in range(0, len(changes), 150):
            for outcome in run(store, engine, changes[start:start + 150]):
                stored.extend(sorted(rows.whole().keys)
                              for rows in outcome.delta.lists.values())
        while engine.pending_count:
            run(store, engine, [])
    return _state(engine, stored)


def test_lists_set_a_chunk_at_a_time_equal_a_side_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilt: list[int] = []
    rebuild = ivf_lists.searched_parts

    def counted(mine, other, nodes, depth, progress=ivf_lists.no_progress):
        rebuilt.append(len(nodes))
        return rebuild(mine, other, nodes, depth, progress)

    monkeypatch.setattr(ivf_lists, "searched_parts", counted)
    parts = _run(tmp_path, False, monkeypatch)
    assert max(rebuilt) > 16, "no rebuild searched more than one chunk"
    monkeypatch.setattr(ivf_lists, "searched_parts", rebuild)
    whole = _run(tmp_path, True, monkeypatch)
    for key in whole:
        assert parts[key] == whole[key], key
