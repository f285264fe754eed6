"""Batch alignment: FAISS candidates both ways → cross-attention re-rank → threshold + one-to-one.

The same decision the streaming engine makes per affected entity, made for every entity at once:
candidates are each entity's top-k in the other graph's index (A→B and B→A, so an entity that
is nobody's nearest still gets considered), every candidate pair is re-scored with cross-graph
attention, pairs under the threshold (the unnamed threshold and margin where an entity has no name)
are dropped, and the rest are matched one-to-one by repeated mutual best (the highest remaining
pair is always mutual best; take it, drop its rows). With ``neighbourhood_rounds``, pairs of
unnamed entities are then matched by their aligned neighbours instead (``neighbourhood``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from stream_align.csls import hub_scores, rerank
from stream_align.engine.margin import runner_up
from stream_align.engine.neighbourhood import Fanout, hub_corrected, rematch_unnamed
from stream_align.index import IvfVectorIndex, VectorIndex
from stream_align.index.vector_index import prepared
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


@dataclass
class Match:
    """One aligned pair with its score and the neighbour pairs that support it."""

    left: str
    right: str
    score: float
    evidence: list[dict[str, object]] = field(default_factory=list)


@dataclass(frozen=True)
class IvfCells:
    """Search IVF cells instead of every vector: the engine's stored quantiser and nprobe
    (``candidate_index = "ivf"``), so a batch run lists what the streamed lists hold."""

    centroids: np.ndarray
    nprobe: int
    float16: bool = False  # the engine's ``ivf_float16``: half-float codes


def _index(vectors: np.ndarray, normalise: bool, ivf: IvfCells | None
           ) -> VectorIndex | IvfVectorIndex:
    index = VectorIndex(vectors.shape[1], normalise=normalise) if ivf is None else \
        IvfVectorIndex(ivf.centroids, ivf.nprobe, normalise, ivf.float16)
    index.add(np.arange(len(vectors), dtype=np.int64), vectors)
    return index


def _queries(vectors: np.ndarray, normalise: bool, searched: bool,
             index: VectorIndex | IvfVectorIndex) -> np.ndarray:
    """Queries as the engine searches with them: its indexed vectors where the scores
    themselves count (IVF mode: read back from the index, as decoded from half floats;
    CSLS, whose hub scores are means of them) — the flat engine's exact scan reads the same;
    else the raw ones (the same ranking)."""
    if isinstance(index, IvfVectorIndex):
        return index.reconstruct_many(np.arange(len(vectors), dtype=np.int64))
    return prepared(vectors, vectors.shape[1], normalise) if searched else vectors


def candidates(scorer: ModelScorer, k: int, ivf: IvfCells | None = None, csls_k: int = 0,
               csls_depth: int = 0, anchors: int = 0, anchor_fanout: int = 64) -> np.ndarray:
    """Unique ``(a, b)`` pairs from top-k retrieval in both directions, ``int64 (m, 2)``.

    With ``csls_k`` each entity's top ``csls_depth`` (its list's exact part) is re-ranked by CSLS
    (``stream_align.csls``: hub scores from the first ``csls_k`` of the other side's lists) and
    its first ``k`` are its candidates, as the engine's list heads are. With ``anchors`` each
    entity's ``anchors`` best by shared anchors join them (``stream_align.anchor_candidates``,
    both directions, as the engine's anchor heads)."""
    unit = scorer.bundle.net.loss == "hinge"
    searched = ivf is not None or csls_k > 0
    depth = max(k, csls_depth) if csls_k else k
    index_a, index_b = _index(scorer.query, unit, ivf), _index(scorer.base, unit, ivf)
    score_b, to_b = index_b.search(_queries(scorer.query, unit, searched, index_a), depth)
    score_a, to_a = index_a.search(_queries(scorer.base, unit, searched, index_b), depth)
    if csls_k:
        to_b, to_a = _csls_heads(to_b, score_b, to_a, score_a, k, csls_k)
    ab = np.stack([np.repeat(np.arange(len(scorer.query)), to_b.shape[1]), to_b.ravel()], 1)
    ba = np.stack([to_a.ravel(), np.repeat(np.arange(len(scorer.base)), to_a.shape[1])], 1)
    both = np.concatenate([ab, ba, *_anchor_pairs(scorer, anchors, anchor_fanout)])
    return np.unique(both[(both >= 0).all(axis=1)], axis=0)


def _anchor_pairs(scorer: ModelScorer, m: int, fanout: int) -> list[np.ndarray]:
    """Both graphs' shared-anchor candidates as ``(a, b)`` rows (none without ``m``)."""
    if not m:
        return []
    na, nb = scorer.pair.a.num_entities, scorer.pair.b.num_entities
    to_b = scorer.anchor_heads(0, np.arange(na), m, fanout)
    to_a = scorer.anchor_heads(1, np.arange(nb), m, fanout)
    return [np.stack([np.repeat(np.arange(na), m), to_b.ravel()], 1),
            np.stack([to_a.ravel(), np.repeat(np.arange(nb), m)], 1)]


def _csls_heads(to_b: np.ndarray, score_b: np.ndarray, to_a: np.ndarray, score_a: np.ndarray,
                k: int, csls_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' lists re-ranked by CSLS, first ``k`` of each (``-1``: no member)."""
    len_b, len_a = (to_b >= 0).sum(axis=1), (to_a >= 0).sum(axis=1)
    hub_a, hub_b = hub_scores(score_b, len_b, csls_k), hub_scores(score_a, len_a, csls_k)
    heads_b = rerank(to_b, score_b, len_b, np.where(to_b >= 0, hub_b[to_b], 0.0), k)
    heads_a = rerank(to_a, score_a, len_a, np.where(to_a >= 0, hub_a[to_a], 0.0), k)
    return heads_b, heads_a


def one_to_one(pairs: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray
               ) -> np.ndarray:
    """Indices into ``pairs`` chosen by repeated mutual best among scores ≥ ``threshold`` (one
    for all pairs, or one per pair).

    ``pairs`` come sorted by ``(a, b)`` and the sort is stable, so equal scores go to the lower
    indices first — by key, since loaded graphs number their keys in order (the streaming
    engine's decider breaks ties the same way)."""
    eligible = np.flatnonzero(scores.astype(np.float64) >= threshold)
    used_a, used_b, chosen = set(), set(), []
    for p in eligible[np.argsort(-scores[eligible], kind="stable")]:
        a, b = int(pairs[p, 0]), int(pairs[p, 1])
        if a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            chosen.append(p)
    return np.asarray(chosen, dtype=np.int64)


def thresholds(scorer: ModelScorer, pairs: np.ndarray, settings: AlignSettings,
               scores: np.ndarray | None = None) -> np.ndarray:
    """Each pair's minimum score: ``unnamed_threshold`` where either entity has no name, and
    there at least ``unnamed_margin`` above the pair's runner-up (``margin``; needs ``scores``);
    with ``neighbourhood_rounds`` such pairs are not matched by score at all.
    """
    limit = np.full(len(pairs), settings.threshold)
    if (settings.unnamed_threshold is None and settings.unnamed_margin is None
            and not settings.neighbourhood_rounds):
        return limit
    named_a = np.array([bool(n) for n in scorer.pair.a.names], dtype=bool)
    named_b = np.array([bool(n) for n in scorer.pair.b.names], dtype=bool)
    unnamed = ~(named_a[pairs[:, 0]] & named_b[pairs[:, 1]])
    if settings.unnamed_threshold is not None:
        limit[unnamed] = settings.unnamed_threshold
    if settings.unnamed_margin is not None:
        if scores is None:
            raise ValueError("an unnamed margin needs the pair scores")
        ahead = runner_up(pairs, scores) + settings.unnamed_margin
        limit[unnamed] = np.maximum(limit[unnamed], ahead[unnamed])
    if settings.neighbourhood_rounds:  # decided by their neighbourhood (``neighbourhood``)
        limit[unnamed] = np.inf
    return limit


ALIGN_STAGES = ("candidates", "score pairs", "one-to-one", "evidence")
"""What :func:`align` reports to ``on_stage``, in order, as each begins."""


def align(scorer: ModelScorer, settings: AlignSettings,
          on_stage: Callable[[str], None] = lambda stage: None,
          ivf: IvfCells | None = None) -> list[Match]:
    """Aligned pairs of the scorer's two graphs, best first; ``on_stage`` hears each of
    :data:`ALIGN_STAGES` begin (a progress display: minutes on a large pair)."""
    on_stage(ALIGN_STAGES[0])
    pairs = candidates(scorer, settings.candidates, ivf, settings.csls_k, settings.csls_depth,
                       settings.anchor_candidates, settings.anchor_fanout)
    on_stage(ALIGN_STAGES[1])
    scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
    on_stage(ALIGN_STAGES[2])
    picked = pairs[one_to_one(pairs, scores, thresholds(scorer, pairs, settings, scores))]
    if settings.neighbourhood_rounds:
        picked = rematch_unnamed(scorer.pair.a, scorer.pair.b, picked, scorer.pair.train,
                                 settings.neighbourhood_rounds,
                                 Fanout(settings.neighbourhood_fanout,
                                        settings.neighbourhood_group_fanout),
                                 scored=(pairs, hub_corrected(pairs, scores, settings.threshold,
                                                              settings.csls_k)
                                         if settings.neighbourhood_csls
                                         else scores >= settings.threshold),
                                 named=settings.neighbourhood_named)
    on_stage(ALIGN_STAGES[3])
    final, evidence = scorer.pair_scores(picked[:, 0], picked[:, 1], evidence=settings.evidence)
    keys_a, keys_b = scorer.pair.a.keys, scorer.pair.b.keys
    return [Match(left=keys_a[a], right=keys_b[b], score=float(s),
                  evidence=[{"left": keys_a[e.left], "right": keys_b[e.right],
                             "relation_left": e.relation_left,
                             "relation_right": e.relation_right, "weight": round(e.weight, 6)}
                            for e in ev])
            for (a, b), s, ev in zip(picked.tolist(), final.tolist(),
                                     evidence or [[] for _ in picked], strict=True)]
