"""What the engine reads of stored state: a protocol the store's side implements.

The engine imports no store class: ``AlignmentEngine.restore`` (and any state the engine keeps
on disk behind a cache) reads through this protocol, and ``service.engine_state.StoredState``
implements it over one store transaction. Rows come in the store's vocabulary (graph ids and
entity keys, plain tuples), exactly what a :class:`~stream_align.engine.delta.StateDelta`
wrote, so ``restore(write(delta))`` is the engine that produced the delta.

Every method is a read; iteration order is the store's key order, and the engine's restore
does not depend on it (``AlignmentEngine.restore``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np


class GraphRowsRead(Protocol):
    """One graph's entities and triples, numbered: entity ``i`` is ``keys[i]`` with
    ``types[i]`` and ``attributes[i]``; a triple row is ``(head entity, relation number,
    tail entity)``, the relation named ``relations[number]``."""

    keys: list[str]
    types: list[str]
    attributes: list[dict[str, str]]
    relations: list[str]
    triples: np.ndarray


class EmbeddingRowsRead(Protocol):
    """One graph's stored embeddings: ``keys[i]`` has FAISS id ``faiss_ids[i]`` (``-1``:
    none) and, where ``current[i]`` (the model version asked for), the next row of
    ``vectors``; the others are of another model version."""

    keys: list[str]
    faiss_ids: np.ndarray
    current: np.ndarray
    vectors: np.ndarray


class LevelOneRowsRead(Protocol):
    """One graph's stored ``h1`` rows of one model version (decision 0135): ``keys[i]`` has
    ``rows[i]``, current where ``current[i]`` (``level1_cache``)."""

    keys: list[str]
    rows: np.ndarray
    current: np.ndarray


class ListRowsRead(Protocol):
    """Every stored list of a graph, columnar: row ``i`` is ``keys[i]``'s ``bounds[i]`` and its
    ``lengths[i]`` members (FAISS ids of the other graph, best first) with their scores, the
    rows' entries concatenated in ``ids``/``scores``; ``cells[i]`` (IVF) the owner's own cell,
    then the cells its list probes, ``-1`` where none was stored (``(n, 0)`` without IVF);
    ``anchors[i]`` its shared-anchor candidates (FAISS ids, ``-1`` past the stored ones, ``-2``
    one stored without an id); a row may hold them and no list (``lengths[i]`` 0)."""

    keys: list[str]
    bounds: np.ndarray
    lengths: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    cells: np.ndarray
    anchors: np.ndarray


class PairRowsRead(Protocol):
    """Every stored pair row, columnar: left ``keys[i]``'s ``lengths[i]`` pairs (FAISS ids of
    graph B) and scores, concatenated."""

    keys: list[str]
    lengths: np.ndarray
    rights: np.ndarray
    scores: np.ndarray


class StateSource(Protocol):
    """Stored engine state, read-only."""

    def graph(self, graph_id: str) -> GraphRowsRead:
        """Every entity and triple of the graph, at once (a restore reads them all)."""
        ...

    def labels(self) -> Iterable[tuple[str, str, str, int]]:
        """Every ``(left, right, label value, event_time)``."""
        ...

    def decisions(self) -> Iterable[tuple[str, str, float]]:
        """Every current ``(left, right, published score)`` the decider made."""
        ...

    def neighbourhood_matches(self) -> Iterable[tuple[str, str, float]]:
        """Every current ``(left, right, published score)`` the neighbourhood stage made."""
        ...

    def neighbourhood_relations(self, model_version: str
                                ) -> tuple[tuple[int, int], list[tuple[str, str]]] | None:
        """``((anchors, triples) when learnt, relation pairs)`` frozen for
        ``model_version``, if learnt."""
        ...

    def queued(self) -> Iterable[tuple[int, str, str]]:
        """Every deferred recompute ``(seq, graph id, key)``."""
        ...

    def next_queue_seq(self) -> int:
        """The sequence number the next deferred recompute gets."""
        ...

    def embeddings(self, graph_id: str, model_version: str) -> EmbeddingRowsRead:
        """Every stored embedding of the graph, at once."""
        ...

    def level1_rows(self, graph_id: str, model_version: str) -> LevelOneRowsRead:
        """Every stored ``h1`` row of the graph computed by ``model_version``, at once (none
        in a state written before decision 0135)."""
        ...

    def quantiser(self, model_version: str) -> np.ndarray | None:
        """The IVF centroids frozen for ``model_version``, if trained."""
        ...

    def candidates_state(self) -> str | None:
        """What the stored candidate rows are (``candidate_state.fingerprint`` when they are
        current, ``""`` while work was held); None if never written."""
        ...

    def candidate_lists(self, graph_id: str, anchors: bool = True) -> ListRowsRead:
        """Every stored list of the graph, at once (a restore reads them all); ``anchors``
        False: rows of the layout before decision 0089, without anchor candidates."""
        ...

    def pair_scores(self) -> PairRowsRead:
        """Every stored pair row, at once."""
        ...

    def next_faiss_id(self) -> int:
        """The FAISS id the next indexed entity gets (ids are never reused)."""
        ...

    def event_identity(self) -> str | None:
        """This state's identity in event ids (None until the first event is numbered)."""
        ...

    def next_event_seq(self) -> int:
        """The sequence number the next alignment event gets."""
        ...
