"""Per-snapshot precision / recall / F1 of an alignment on a growing dataset (ContEA protocol).

How ContEA evaluates (nju-websoft/ContEA, ``src/main.py`` and ``src/eval.py``, commit 03926ea):
the candidates are every entity of the snapshot's graphs except the train and valid entities of
each side; the predicted pairs are bidirectional nearest neighbours (each is the other's top-1,
``--topk 1``, on CSLS similarity, no threshold); precision = hits / predicted pairs, recall =
hits / the snapshot's test links (``base/test_links``, then ``batchK/all_test_links``), F1 their
harmonic mean. "New" keeps the predicted pairs with an entity new in this batch and scores them
against ``batchK/new_test_links``; the base snapshot has no new links, so ContEA reports nothing
there (``null`` here).

What this module implements (the same counting, any alignment as input):

- ``predicted`` is whatever one-to-one alignment a method holds at the end of the snapshot; pairs
  that touch a train or valid entity on either side are dropped before counting (ContEA never
  proposes them: they are not candidates).
- An entity is *new* at snapshot ``k >= 1`` when no triple of snapshots ``0..k-1`` names it and a
  triple of snapshot ``k`` does (ContEA's ``new_ent`` is the same set restricted to new entities
  with an old neighbour). Entities no triple ever names count as present from the base (the
  replay upserts them there).
- :func:`bidirectional_best` is ContEA's predicted-pair rule on a method's raw scores (no CSLS
  rescaling), for methods that have no matching of their own (the learning-free baseline).

ContEA additionally merges a batch's predictions with the previous snapshot's (part of its
method, in ``merge_predicted_pairs``); nothing here carries predictions between snapshots: each
method is scored on the alignment it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from stream_align.eval.scorer import PairScorer
from stream_align.graph import Graph, GraphPair

ROW_BLOCK = 512


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 with the counts they come from (JSON-ready)."""

    precision: float
    recall: float
    f1: float
    hits: int
    predicted: int
    gold: int


def prf(predicted: np.ndarray, gold: np.ndarray) -> Score:
    """ContEA's ``P_R_F1``: hits are predicted pairs found in ``gold``; 0 instead of undefined."""
    gold_set = set(map(tuple, np.asarray(gold, dtype=np.int64).reshape(-1, 2).tolist()))
    pairs = {tuple(p) for p in np.asarray(predicted, dtype=np.int64).reshape(-1, 2).tolist()}
    hits = len(pairs & gold_set)
    precision = hits / len(pairs) if pairs else 0.0
    recall = hits / len(gold_set) if gold_set else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return Score(precision, recall, f1, hits, len(pairs), len(gold_set))


def first_seen(num_entities: int, blocks: list[np.ndarray]) -> np.ndarray:
    """Per entity, the first snapshot whose triples name it (0 for entities no triple names).

    The same rule as the ``snapshots`` replay order, so "present at ``k``" here is exactly "upserted
    by the end of snapshot ``k``" in the stream.
    """
    first = np.full(num_entities, -1, dtype=np.int64)
    for k, block in enumerate(blocks):
        ends = block[:, [0, 2]].ravel() if len(block) else np.zeros(0, dtype=np.int64)
        fresh = ends[first[ends] < 0]
        first[fresh] = k
    first[first < 0] = 0
    return first


@dataclass
class Timeline:
    """A continual dataset seen snapshot by snapshot: growth, gold links and excluded entities."""

    names: list[str]
    blocks_a: list[np.ndarray]
    blocks_b: list[np.ndarray]
    first_a: np.ndarray
    first_b: np.ndarray
    test: list[np.ndarray]
    new_test: list[np.ndarray | None]
    excluded_a: np.ndarray
    excluded_b: np.ndarray

    @classmethod
    def of(cls, pair: GraphPair) -> Timeline:
        """Base = ``pair.a/b.triples`` and ``pair.test``; then one entry per ``pair.snapshots``."""
        blocks_a = [pair.a.triples, *(s.triples_a for s in pair.snapshots)]
        blocks_b = [pair.b.triples, *(s.triples_b for s in pair.snapshots)]
        seen = np.concatenate([pair.train, pair.valid])
        excluded_a = np.zeros(pair.a.num_entities, dtype=bool)
        excluded_b = np.zeros(pair.b.num_entities, dtype=bool)
        excluded_a[seen[:, 0]] = True
        excluded_b[seen[:, 1]] = True
        return cls(names=["base", *(s.name for s in pair.snapshots)],
                   blocks_a=blocks_a, blocks_b=blocks_b,
                   first_a=first_seen(pair.a.num_entities, blocks_a),
                   first_b=first_seen(pair.b.num_entities, blocks_b),
                   test=[pair.test, *(s.test for s in pair.snapshots)],
                   new_test=[None, *(s.new_test for s in pair.snapshots)],
                   excluded_a=excluded_a, excluded_b=excluded_b)

    def __len__(self) -> int:
        return len(self.names)

    def present(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the A and B entities that exist at snapshot ``k``."""
        return np.flatnonzero(self.first_a <= k), np.flatnonzero(self.first_b <= k)

    def candidates(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """ContEA's test candidates at ``k``: present entities minus train and valid ones."""
        a, b = self.present(k)
        return a[~self.excluded_a[a]], b[~self.excluded_b[b]]


def score_snapshot(timeline: Timeline, k: int, predicted: np.ndarray) -> dict[str, Score | None]:
    """``all``: candidate pairs of ``predicted`` against the test links at ``k``; ``new``: those
    with an entity new at ``k`` against the new links (``None`` at the base)."""
    predicted = np.asarray(predicted, dtype=np.int64).reshape(-1, 2)
    keep = ~timeline.excluded_a[predicted[:, 0]] & ~timeline.excluded_b[predicted[:, 1]]
    predicted = predicted[keep]
    out: dict[str, Score | None] = {"all": prf(predicted, timeline.test[k]), "new": None}
    new_gold = timeline.new_test[k]
    if new_gold is not None:
        fresh = (timeline.first_a[predicted[:, 0]] == k) | (timeline.first_b[predicted[:, 1]] == k)
        out["new"] = prf(predicted[fresh], new_gold)
    return out


def _subgraph(graph: Graph, keep: np.ndarray, blocks: list[np.ndarray]) -> Graph:
    """``graph`` restricted to the entities ``keep`` with the triples ``blocks`` (re-indexed)."""
    new_index = np.full(graph.num_entities, -1, dtype=np.int64)
    new_index[keep] = np.arange(len(keep))
    triples = np.concatenate(blocks) if blocks else np.zeros((0, 3), dtype=np.int64)
    triples = np.stack([new_index[triples[:, 0]], triples[:, 1], new_index[triples[:, 2]]], 1)
    return Graph(label=graph.label, keys=[graph.keys[i] for i in keep],
                 names=[graph.names[i] for i in keep], types=[graph.types[i] for i in keep],
                 attributes=[graph.attributes[i] for i in keep], relations=graph.relations,
                 triples=triples)


def _map_pairs(pairs: np.ndarray, index_a: np.ndarray, index_b: np.ndarray) -> np.ndarray:
    mapped = np.stack([index_a[pairs[:, 0]], index_b[pairs[:, 1]]], 1)
    return mapped[(mapped >= 0).all(axis=1)]


def snapshot_pair(pair: GraphPair, timeline: Timeline, k: int
                  ) -> tuple[GraphPair, np.ndarray, np.ndarray]:
    """The graphs as they stand at snapshot ``k`` (only present entities, keys unchanged), for
    methods recomputed from scratch; also each side's sub-index → full-index map."""
    keep_a, keep_b = timeline.present(k)
    a = _subgraph(pair.a, keep_a, timeline.blocks_a[:k + 1])
    b = _subgraph(pair.b, keep_b, timeline.blocks_b[:k + 1])
    index_a = np.full(pair.a.num_entities, -1, dtype=np.int64)
    index_b = np.full(pair.b.num_entities, -1, dtype=np.int64)
    index_a[keep_a] = np.arange(len(keep_a))
    index_b[keep_b] = np.arange(len(keep_b))
    sub = GraphPair(name=pair.name, a=a, b=b,
                    train=_map_pairs(pair.train, index_a, index_b),
                    valid=_map_pairs(pair.valid, index_a, index_b),
                    test=_map_pairs(timeline.test[k], index_a, index_b))
    return sub, keep_a, keep_b


def bidirectional_best(scorer: PairScorer, pair: GraphPair, sources: np.ndarray,
                       targets: np.ndarray) -> np.ndarray:
    """Pairs ``(a, b)`` where ``b`` is ``a``'s best target and ``a`` is ``b``'s best source.

    Row blocks of ``sources × targets`` (never the dense matrix: 84K × 132K at ContEA's last
    snapshot); ties go to the first index, as ``argmax``/``torch.argsort`` do in ContEA.
    """
    if not len(sources) or not len(targets):
        return np.zeros((0, 2), dtype=np.int64)
    row_best = np.empty(len(sources), dtype=np.int64)
    col_value = np.full(len(targets), -np.inf, dtype=np.float32)
    col_best = np.zeros(len(targets), dtype=np.int64)
    for start in tqdm(range(0, len(sources), ROW_BLOCK), desc=f"{scorer.name}: best match",
                      unit="block", leave=False):
        block = scorer.similarity(pair, sources[start:start + ROW_BLOCK], targets)
        row_best[start:start + len(block)] = block.argmax(axis=1)
        top_row = block.argmax(axis=0)
        top = block[top_row, np.arange(len(targets))]
        better = top > col_value
        col_value[better] = top[better]
        col_best[better] = start + top_row[better]
    rows = np.arange(len(sources))
    mutual = col_best[row_best] == rows
    return np.stack([sources[mutual], targets[row_best[mutual]]], axis=1)
