"""Self-training: the model's own confident predictions become extra seed anchors.

With names hidden, an entity is only as alignable as the seed anchors within its two sampled
hops (a quarter of DBP15K zh_en's test entities have none at one hop). After training, each
round takes the *mutual* nearest neighbours (by the retrieval score) among entities that are
neither anchors nor validation entities and freezes them as anchors (BootEA / the iterative
variants of RREA and LightEA do the same). No label of a non-training pair is read: the pairs
are predictions. Validation entities stay out so model selection and its numbers stay clean.
With ``bootstrap_by_head`` (the names-hidden default) the mutual best pairs are chosen by the
pair head among each free entity's retrieval candidates instead (``model.head_pairs``,
decision 0049). With ``bootstrap_rechoose`` (also the names-hidden default) a round chooses
among every entity that is not a seed anchor, the last round's pseudo anchors included, and
its pairs replace theirs: a pair chosen when its neighbourhood held fewer anchors is checked
again once it holds more, and drops out when the new context no longer supports it (the
iterative re-labelling of BootEA; decision 0052).

Pseudo-anchors live in the artifact like seed anchors (a list of key pairs), so a new version
serves them to the streaming engine unchanged; their learnt level-0 embedding starts at zero
(the encoder was not trained on them), so they act through the fixed structural blocks, where an
entity never sees its own anchor — a wrong pseudo-pair does not lock itself in, it only informs
its neighbours.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.head_pairs import head_mutual_best
from stream_align.model.inputs import GraphInputs, anchor_ids
from stream_align.model.pair_fit import fit_pair_head
from stream_align.model.readout import row_vectors

log = logging.getLogger(__name__)


@torch.no_grad()
def hub_scores(queries: torch.Tensor, base: torch.Tensor, k: int,
               chunk: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """CSLS hub scores (Conneau et al., 2018): each row's and each column's mean of its ``k``
    best inner products with the other side."""
    k = min(k, len(queries), len(base))
    rows = torch.empty(len(queries))
    cols = torch.full((k, len(base)), -torch.inf)
    for start in range(0, len(queries), chunk):
        sim = queries[start:start + chunk] @ base.T
        rows[start:start + chunk] = sim.topk(k, 1).values.mean(1)
        cols = torch.cat([cols, sim.topk(min(k, len(sim)), 0).values]).topk(k, 0).values
    return rows, cols.mean(0)


@torch.no_grad()
def mutual_nearest(queries: torch.Tensor, base: torch.Tensor, chunk: int = 512,
                   csls_k: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``i`` and columns ``j`` that are each other's best match by inner product, or by
    CSLS ``2 s − r_i − r_j`` when ``csls_k`` > 0 (a hub, close to many, is nobody's best).
    ``chunk`` rows of scores at a time: this is the training's highest point, so the chunk is
    small (docs/BENCHMARKS.md, "Training's peak in the self-training round")."""
    if len(queries) == 0 or len(base) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    hubs = hub_scores(queries, base, csls_k, chunk) if csls_k else None
    row_best = torch.empty(len(queries), dtype=torch.int64)
    col_score = torch.full((len(base),), -torch.inf)
    col_best = torch.zeros(len(base), dtype=torch.int64)
    for start in range(0, len(queries), chunk):
        sim = queries[start:start + chunk] @ base.T
        if hubs is not None:  # in place: a chunk of scores is the round's largest transient
            sim.mul_(2).sub_(hubs[0][start:start + chunk, None]).sub_(hubs[1][None, :])
        row_best[start:start + chunk] = sim.argmax(1)
        score, arg = sim.max(0)
        better = score > col_score  # ties keep the earlier row: deterministic
        col_score[better], col_best[better] = score[better], arg[better] + start
    rows = torch.arange(len(queries))
    mutual = col_best[row_best] == rows
    return rows[mutual].numpy(), row_best[mutual].numpy()


def add_anchors(bundle: ModelBundle, pairs: list[tuple[str, str]], keep: int | None = None
                ) -> None:
    """Append anchors (key pairs) to the frozen list after its first ``keep`` (all by
    default; the rest are dropped); new anchor embeddings start at zero."""
    old = len(bundle.frozen.anchors) if keep is None else keep
    bundle.frozen.set_anchors(old, pairs)
    net = bundle.net
    if not bundle.arch.use_anchors:
        return
    grown = nn.Embedding(old + len(pairs) + 1, net.anchor_emb.embedding_dim,
                         padding_idx=old + len(pairs))
    with torch.no_grad():
        grown.weight.zero_()
        grown.weight[:old] = net.anchor_emb.weight[:old]
    net.anchor_emb = grown


def _free(labels: np.ndarray, n_anchors: int, held_out: np.ndarray) -> np.ndarray:
    """Entities that are not anchors and not held out (validation)."""
    free = labels >= n_anchors
    free[held_out] = False
    return np.flatnonzero(free)


@torch.no_grad()
def bootstrap(bundle: ModelBundle, pair: GraphPair, rounds: int,
              inputs: tuple[GraphInputs, GraphInputs] | None = None,
              seeds: int | None = None) -> list[int]:
    """Run ``rounds`` rounds of mutual-nearest self-training; returns the pairs added per round.
    ``inputs``: both graphs' inputs under the current anchors, when the caller has them.
    ``seeds``: the first ``seeds`` anchors are the seed pairs and every later one is chosen
    again each round (decision 0052) — a pseudo pair the new context no longer supports drops
    out; ``None``: pseudo anchors are kept and a round only adds to them."""
    added = []
    net = bundle.net
    for _ in range(rounds):
        ga, gb = inputs or (bundle.inputs(pair.a), bundle.inputs(pair.b))
        inputs = None  # the round's new anchors change them
        n = len(bundle.frozen.anchors) if seeds is None else seeds
        free_a = _free(anchor_ids(pair.a, bundle.frozen), n, pair.valid[:, 0])
        free_b = _free(anchor_ids(pair.b, bundle.frozen), n, pair.valid[:, 1])
        qa = row_vectors(net, ga, net.encode(ga), torch.from_numpy(free_a), query=True)
        eb = row_vectors(net, gb, net.encode(gb), torch.from_numpy(free_b), query=False)
        head = fit_pair_head(bundle, pair, (ga, gb)) if bundle.train.bootstrap_by_head else None
        if head is not None:  # decision 0049
            rows, cols = head_mutual_best(bundle, head, (ga, gb), (free_a, free_b), (qa, eb))
        else:
            rows, cols = mutual_nearest(qa, eb, csls_k=bundle.train.bootstrap_csls_k)
        del qa, eb, ga, gb
        add_anchors(bundle, [(pair.a.keys[free_a[i]], pair.b.keys[free_b[j]])
                             for i, j in zip(rows.tolist(), cols.tolist(), strict=True)], n)
        added.append(len(rows))
        log.info("bootstrap round %d: %d pseudo-anchors", len(added), len(rows))
    return added
