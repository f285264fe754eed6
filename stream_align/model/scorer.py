"""The trained model seen as a :class:`~stream_align.eval.scorer.PairScorer`.

``similarity`` ranks by the pair-independent retrieval embedding (what FAISS serves), then
re-ranks each source's top-k by the cross-graph-attention pair score, lifted above every
non-candidate so the re-ranked candidates order first. ``score_pairs`` is the pair score alone.
With ``csls_k`` the retrieval is CSLS-corrected as the service's lists are (``stream_align.csls``,
decision 0036): each source's top ``depth`` by plain score re-ranked by ``2 s − r(target)``, hub
scores ``r`` from the whole other graph, and non-candidates ordered by ``2 s − r_a − r_b``.
With ``anchor_k`` each source's candidates also hold its ``anchor_k`` best targets by shared
anchors (``stream_align.anchor_candidates``, decision 0045), as the service's do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stream_align.anchor_candidates import AnchorSide, heads, table_side
from stream_align.csls import hub_scores, rerank
from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.model.bundle import ModelBundle
from stream_align.model.evidence import NeighbourPair, top_evidence
from stream_align.model.inputs import GraphInputs
from stream_align.model.pair_head import GraphEvidence, pair_features
from stream_align.model.readout import pair_logit_chunks, retrieval_vectors

CHUNK = 8192


class ModelScorer:
    """CG-MuAlign scores over one :class:`GraphPair` (inputs and encodings computed once)."""

    def __init__(self, bundle: ModelBundle, pair: GraphPair, rerank_k: int = 10,
                 name: str = "cg-mualign", csls_k: int = 0, depth: int = 20,
                 anchor_k: int = 0, anchor_fanout: int = 64) -> None:
        self.bundle, self.pair, self.rerank_k, self.name = bundle, pair, rerank_k, name
        self.csls_k, self.depth = csls_k, max(depth, rerank_k)
        self.anchor_k, self.anchor_fanout = anchor_k, anchor_fanout
        self._hubs: tuple[np.ndarray, np.ndarray] | None = None
        self._anchor_sides: tuple[AnchorSide, AnchorSide] | None = None
        self.ga, self.gb = bundle.inputs(pair.a), bundle.inputs(pair.b)
        with torch.no_grad():
            net = bundle.net
            self.enc_a, self.enc_b = net.encode(self.ga), net.encode(self.gb)
            self.query = retrieval_vectors(net, self.ga, self.enc_a, query=True).numpy()
            self.base = retrieval_vectors(net, self.gb, self.enc_b, query=False).numpy()
        anchors = len(bundle.frozen.anchors)
        self.evidence = (GraphEvidence(self.ga, anchors), GraphEvidence(self.gb, anchors))

    @property
    def _bias(self) -> float:
        """Added to retrieval inner products so they are on the pair scores' (logit) scale."""
        net = self.bundle.net
        return float(net.bce_bias.detach()) if net.loss == "bce" else 0.0

    @classmethod
    def from_path(cls, path: Path, pair: GraphPair, rerank_k: int = 10, csls_k: int = 0,
                  depth: int = 20, anchor_k: int = 0, anchor_fanout: int = 64) -> ModelScorer:
        return cls(load(path), pair, rerank_k, csls_k=csls_k, depth=depth, anchor_k=anchor_k,
                   anchor_fanout=anchor_fanout)

    def anchor_heads(self, side: int, nodes: np.ndarray, m: int, fanout: int,
                     allowed: np.ndarray | None = None) -> np.ndarray:
        """The shared-anchor candidates (``anchor_candidates.heads``) of ``nodes`` of graph
        ``side`` (0: A) in the other graph, ``int64 (len(nodes), m)``, ``-1`` past the end."""
        if self._anchor_sides is None:
            n = len(self.bundle.frozen.anchors)
            aa, ab = self.ga.anchors.numpy(), self.gb.anchors.numpy()
            self._anchor_sides = (table_side(_slots(self.ga), aa, ab, n, self.pair.a.keys),
                                  table_side(_slots(self.gb), ab, aa, n, self.pair.b.keys))
        g = self.ga if side == 0 else self.gb
        slots = _slots(g)[np.asarray(nodes, dtype=np.int64)]
        return heads(slots, self._anchor_sides[side], self._anchor_sides[1 - side], fanout, m,
                     allowed)

    def retrieval(self) -> tuple[np.ndarray, np.ndarray]:
        """Both graphs' retrieval vectors as the service searches them (unit length for a
        hinge model, whose index normalises)."""
        if self.bundle.net.loss != "hinge":
            return self.query, self.base
        return tuple(np.ascontiguousarray(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True),
                                                         1e-12), dtype=np.float32)
                     for v in (self.query, self.base))  # type: ignore[return-value]

    def hubs(self) -> tuple[np.ndarray, np.ndarray]:
        """CSLS hub scores of every entity of A and of B (their best ``csls_k`` retrieval
        scores in the whole other graph, ``csls.hub_scores``); computed once."""
        if self._hubs is None:
            qa, qb = self.retrieval()
            self._hubs = (_hub_of(qa, qb, self.csls_k), _hub_of(qb, qa, self.csls_k))
        return self._hubs

    @property
    def version(self) -> str:
        return self.bundle.version

    def _check(self, pair: GraphPair) -> None:
        """Indices are only meaningful for the graphs the scorer encoded."""
        same = (pair.name, pair.a.num_entities, pair.b.num_entities) == (
            self.pair.name, self.pair.a.num_entities, self.pair.b.num_entities)
        if not same:
            raise ValueError(f"ModelScorer was built for {self.pair.name}, not {pair.name}")

    @torch.no_grad()
    def pair_scores(self, ia: np.ndarray, ib: np.ndarray, cross: bool = True, evidence: int = 0,
                    link: bool = True) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
        """Scores of ``(ia[p], ib[p])`` and, per pair, its ``evidence`` (:mod:`model.evidence`).

        With a pair head (decision 0024) the probability from its features (its logit without
        ``link``); else cosine for hinge, for BCE the probability (the logit without ``link``).
        """
        scores, explained = [], []
        net = self.bundle.net
        for a, b, logits, out in pair_logit_chunks(net, self.ga, self.enc_a, ia, self.gb,
                                                   self.enc_b, ib, cross, CHUNK):
            head = self.bundle.pair_head
            if head is not None:
                feats = pair_features(self.evidence[0], a.numpy(), self.evidence[1], b.numpy(),
                                      logits.numpy())
                scores.append(torch.from_numpy(head.scores(feats) if link else head.logits(feats)))
            else:
                scores.append(torch.sigmoid(logits) if link and net.loss == "bce" else logits)
            if evidence and out is not None:
                explained += self._evidence(a, b, out.cross, evidence)
        result = torch.cat(scores).numpy() if scores else np.zeros(0, dtype=np.float32)
        return result.astype(np.float32), explained

    def _evidence(self, a: torch.Tensor, b: torch.Tensor, cross: torch.Tensor,
                  top: int) -> list[list[NeighbourPair]]:
        return top_evidence(cross, (self.ga.nbr[a], self.ga.rel[a]),
                            (self.gb.nbr[b], self.gb.rel[b]),
                            self.bundle.frozen.vocab.relations, top)

    def similarity(self, pair: GraphPair, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        self._check(pair)
        if self.csls_k:
            sim, cols = self._csls(sources, targets)
        else:
            sim = self.query[sources] @ self.base[targets].T + self._bias
        if self.rerank_k <= 0 or len(targets) == 0:
            return sim.astype(np.float32)
        k = min(self.rerank_k, len(targets))
        if not self.csls_k:
            cols = np.argpartition(-sim, min(k, len(targets) - 1), axis=1)[:, :k]
        if self.anchor_k:
            cols = np.concatenate([cols, self._anchor_columns(sources, targets)], axis=1)
        rows = np.repeat(np.arange(len(sources)), cols.shape[1])
        flat = cols.ravel().astype(np.int64)
        cells = np.unique((rows.astype(np.int64) << 32 | flat)[flat >= 0])
        rows, cols = cells >> 32, cells & 0xFFFFFFFF
        scores = self.pair_scores(sources[rows], targets[cols], link=False)[0]
        # Shift a row's candidates only as far as needed to stay above its best non-candidate,
        # so scores stay comparable across rows (one-to-one assignment reads across rows).
        rest = sim.copy()
        rest[rows, cols] = -np.inf
        floor = rest.max(axis=1)
        lowest = np.full(len(sources), np.inf)
        np.minimum.at(lowest, rows, scores)
        shift = np.where(np.isfinite(floor), np.maximum(0.0, floor - lowest + 1e-6), 0.0)
        sim[rows, cols] = scores + shift[rows]
        return sim.astype(np.float32)

    def _anchor_columns(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each source's shared-anchor candidates among ``targets``, as columns (``-1``:
        none)."""
        allowed = np.zeros(self.pair.b.num_entities, dtype=bool)
        allowed[targets] = True
        found = self.anchor_heads(0, sources, self.anchor_k, self.anchor_fanout, allowed)
        column = np.full(self.pair.b.num_entities, -1, dtype=np.int64)
        column[targets] = np.arange(len(targets))
        return np.where(found >= 0, column[np.maximum(found, 0)], -1)

    def _csls(self, sources: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CSLS similarity of ``sources × targets`` and each row's candidate columns: the top
        ``depth`` targets by plain score re-ranked by CSLS (``csls.rerank``), first ``rerank_k``."""
        qa, qb = self.retrieval()
        ra, rb = self.hubs()
        plain = qa[sources] @ qb[targets].T
        sim = 2.0 * plain - ra[sources, None] - rb[None, targets] + self._bias
        depth = min(self.depth, len(targets))
        top = torch.from_numpy(np.ascontiguousarray(plain)).topk(depth, dim=1)
        order, values = top.indices.numpy(), top.values.numpy()
        best = rerank(order, values, np.full(len(sources), depth), rb[targets[order]],
                      self.rerank_k)
        return sim.astype(np.float32), best

    def score_pairs(self, pair: GraphPair, pairs: np.ndarray) -> np.ndarray:
        self._check(pair)
        return self.pair_scores(pairs[:, 0], pairs[:, 1])[0]


def _slots(g: GraphInputs) -> np.ndarray:
    """Each entity's sampled neighbours, ``-1`` past its slots."""
    return np.where(g.mask.numpy(), g.nbr.numpy(), -1)


def _hub_of(mine: np.ndarray, other: np.ndarray, k: int) -> np.ndarray:
    """Each row of ``mine``'s CSLS hub score against all of ``other`` (chunks of rows)."""
    out = np.zeros(len(mine))
    k = min(k, len(other))
    for start in range(0, len(mine), CHUNK // 4):
        values = torch.from_numpy(mine[start:start + CHUNK // 4] @ other.T).topk(k, dim=1).values
        out[start:start + len(values)] = hub_scores(values.numpy(), np.full(len(values), k), k)
    return out
