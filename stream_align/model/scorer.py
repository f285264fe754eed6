"""The trained model seen as a :class:`~stream_align.eval.scorer.PairScorer`.

``similarity`` ranks by the pair-independent retrieval embedding (what FAISS serves), then
re-ranks each source's top-k by the cross-graph-attention pair score, lifted above every
non-candidate so the re-ranked candidates order first. ``score_pairs`` is the pair score alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stream_align.graph import GraphPair
from stream_align.model.artifact import load
from stream_align.model.bundle import ModelBundle
from stream_align.model.evidence import NeighbourPair, top_evidence
from stream_align.model.pair_head import GraphEvidence, pair_features
from stream_align.model.readout import pair_logits, retrieval_vectors

CHUNK = 8192


class ModelScorer:
    """CG-MuAlign scores over one :class:`GraphPair` (inputs and encodings computed once)."""

    def __init__(self, bundle: ModelBundle, pair: GraphPair, rerank_k: int = 10,
                 name: str = "cg-mualign") -> None:
        self.bundle, self.pair, self.rerank_k, self.name = bundle, pair, rerank_k, name
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
    def from_path(cls, path: Path, pair: GraphPair, rerank_k: int = 10) -> ModelScorer:
        return cls(load(path), pair, rerank_k)

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
        for s in range(0, len(ia), CHUNK):
            a = torch.as_tensor(ia[s:s + CHUNK], dtype=torch.int64)
            b = torch.as_tensor(ib[s:s + CHUNK], dtype=torch.int64)
            logits, out = pair_logits(net, self.ga, self.enc_a, a, self.gb, self.enc_b, b, cross)
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
        sim = self.query[sources] @ self.base[targets].T + self._bias
        if self.rerank_k <= 0 or len(targets) == 0:
            return sim.astype(np.float32)
        k = min(self.rerank_k, len(targets))
        order = np.argpartition(-sim, min(k, len(targets) - 1), axis=1)
        cols, rest = order[:, :k], order[:, k:k + 1]
        rows = np.arange(len(sources))[:, None]
        scores = self.pair_scores(sources[rows.repeat(k, 1).ravel()], targets[cols.ravel()],
                                  link=False)[0]
        scores = scores.reshape(len(sources), k)
        # Shift a row's candidates only as far as needed to stay above its best non-candidate,
        # so scores stay comparable across rows (one-to-one assignment reads across rows).
        floor = sim[rows, rest].max(axis=1) if rest.shape[1] else np.full(len(sources), -np.inf)
        shift = np.maximum(0.0, floor - scores.min(axis=1) + 1e-6)
        sim[rows, cols] = scores + shift[:, None]
        return sim.astype(np.float32)

    def score_pairs(self, pair: GraphPair, pairs: np.ndarray) -> np.ndarray:
        self._check(pair)
        return self.pair_scores(pairs[:, 0], pairs[:, 1])[0]
