"""Cross-attention pair scores (and their evidence) from indexed vectors and kept ``h1`` rows.

A pair score differs from the retrieval score of the same two entities only in the last layer:
cross-graph attention α instead of uniform weights. So it is read from what the engine keeps —
both retrieval vectors (``h0``, ``h1``, the fixed skips: in the index) with their ``h2`` block
swapped for the pair's (:meth:`CGMuAlign.swap_h2`), whose CollectiveAgg messages need only the
``h1`` of both entities and of their samples (``level1_cache``) — with no local encode. Scores
are those of ``ModelScorer.pair_scores``: with a pair head (decision 0024) its probability from
full-resolution evidence read from the samples and cached level-0 names (:func:`side_view`, the
same rows ``model.pair_head`` cuts from a whole graph); else a probability for BCE models, the
cosine for hinge ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch

from stream_align import setops
from stream_align.arrays import positions
from stream_align.engine import levelwise, packed
from stream_align.engine.pair_features import (
    FeatureCache,
    cached_features,
    kept_whole,
    unsorted_parts,
    whole_features,
)
from stream_align.engine.progress import Beat, Progress, chunks, no_beat, no_progress
from stream_align.engine.side import Side
from stream_align.engine.threads import TwoEnds, beside, second_thread, torch_on_one_thread
from stream_align.heap import passes_reuse_heap
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import PairOutput
from stream_align.model.evidence import NeighbourPair, top_evidence
from stream_align.model.layers.collective_agg import Messages
from stream_align.model.pair_head import PairView, features, pair_view

PAIR_BLOCK = 16_384
"""Pairs per cross-attention pass: ``PAIR_BLOCK × k × k`` attention weights and two
``PAIR_BLOCK × D`` vector blocks at a time (≈ 70 MB at D = 256). Each pass is a few dozen
small torch ops; fewer, larger passes wait less at thread barriers on a busy machine."""
GROUP_ENTITIES = 65_536
"""Most distinct entities a side in one group of pairs, whose rows, messages and pair-head
views are built once and cut per pair (decision 0032): bounds the group's views (each
entity's view row is ≈ 3 KB). A group is as long as that allows, so a bulk refresh of a graph
of fewer entities than this builds each entity's view once: in groups of a fixed 65,536 pairs
the zh_en refresh built the other side's views again in each of its seven groups, three in
four of the views built (decision 0061)."""
GROUP_PAIRS = 1 << 19
"""Most pairs in one group (their nodes, rows among the group's entities and logits)."""
BESIDE_PAIRS = PAIR_BLOCK
"""Pairs in a group from which the pair head's features run on a second thread beside the
logits (``engine.bulk_threads = 2``, torch on two threads): scipy's sparse products and
torch's attention both leave the GIL, so a bulk refresh can use a free core there (decision
0092). A smaller group is not worth a thread's hand-overs."""
BESIDE_BLOCK = 4_096
"""Pairs per cross-attention pass while the head's features run beside the logits: what the
logits hold — each pass's cut messages, both pairs' vectors and the ``k × k`` weights, ≈ 5 KB a
pair — is held on top of the features' views and sparse cuts, so a pass of :data:`PAIR_BLOCK`
raised the group's peak by ≈ 90 MB (decision 0103). A divisor of :data:`PAIR_BLOCK` and a
multiple of 64: every pair then sits at the same offset, modulo torch's vector width, in its
pass as it would in a pass of :data:`PAIR_BLOCK`, and the last pass ends where the group does,
so the logits are the same bits (rows left to a vector's scalar tail round differently)."""


@dataclass
class PairRows:
    """One side of a block of pairs: its distinct entities, their samples as a neighbour table
    over local positions (entities first, then the other sampled nodes), and what it reads."""

    order: list[int]  # global index per local position
    nbr: torch.Tensor  # int64 (R, k); padding slots point at position len(order)
    rel: torch.Tensor  # int64 (R, k)
    mask: torch.Tensor  # bool (R, k)
    h1: torch.Tensor  # (len(order) + 1, d): kept rows, zero padding row last


@torch.no_grad()
def ensure_level1(bundle: ModelBundle, side: Side, nodes: Sequence[int], chunk: int,
                  beat: Beat = no_beat) -> None:
    """Compute the ``h1`` of the ``nodes`` no recompute has kept one for (after a restore,
    or queued in a bulk load), ``chunk`` of them at a time, level-wise
    (``levelwise.level1``: from the ``h0`` rows of them and their samples). A local encode of
    each chunk's 2-hop closure, as before, also built its local graph, typed and sampled it
    again and hashed the names of every node two hops out: after a restore at 200K a side it
    was most of the first call's pair scores, and it grows with the graph, the restore
    warming a fixed number of nodes (decision 0130). The rows are a local encode's to float
    rounding, as the restore's own (decision 0104). The ``h0`` rows are dropped after unless
    a level-wise drain holds them."""
    todo = np.asarray(side.level1.missing(nodes), dtype=np.int64)
    if not len(todo):
        return
    draining = side.level0.held
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        side.level1.put(part, levelwise.level1(bundle, side, part))
        beat()
    if not draining:
        side.level0.clear()


def pair_rows(bundle: ModelBundle, side: Side, nodes: list[int], chunk: int,
              beat: Beat = no_beat) -> PairRows:
    """The :class:`PairRows` of distinct ``nodes`` (each with an indexed vector), from the
    samples' slot table (a Python loop per slot before)."""
    found, rel = side.samples.slot_table(np.asarray(nodes, dtype=np.int64))
    mask = found >= 0
    order = nodes + setops.setdiff1d(found[mask], nodes).tolist()
    ensure_level1(bundle, side, order, chunk, beat)
    nbr = positions(np.asarray(order, dtype=np.int64), found)  # each neighbour's local row
    return PairRows(order=order, nbr=torch.from_numpy(nbr), rel=torch.from_numpy(rel),
                    mask=torch.from_numpy(mask), h1=side.level1.rows(order))


def _evidence(bundle: ModelBundle, rows: tuple[PairRows, PairRows],
              at: tuple[torch.Tensor, torch.Tensor], cross: torch.Tensor,
              top: int) -> list[list[NeighbourPair]]:
    """The ``top`` evidence entries per pair (:func:`model.evidence.top_evidence`), with the
    neighbours as global indices."""
    tables = []
    for r, i in zip(rows, at, strict=True):
        order = torch.tensor([*r.order, -1], dtype=torch.int64)  # padding slot: no weight
        tables.append((order[r.nbr[i]], r.rel[i]))
    return top_evidence(cross, tables[0], tables[1], bundle.frozen.vocab.relations, top)


def _messages(bundle: ModelBundle, rows: PairRows) -> Messages:
    """The last layer's messages of each entity of ``rows`` (a function of the entity alone:
    computed once, then cut per pair)."""
    every = torch.arange(len(rows.nbr), dtype=torch.int64)
    return bundle.net.layer2.messages(rows.h1, every, rows.nbr, rows.rel, rows.mask)


def _cut(m: Messages, at: torch.Tensor) -> Messages:
    """Rows ``at`` of per-entity messages: one row per pair (``index_select``: the same
    copies as ``m.z[at]``, without advanced indexing's general path — 2–5× its CPU on a
    steady batch's blocks, decision 0118)."""
    return Messages(z_self=_rows(m.z_self, at), z=_rows(m.z, at), beta=_rows(m.beta, at),
                    mask=_rows(m.mask, at))


def _rows(t: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """``t[at]`` for a 1-D ``int64`` ``at`` (a fresh tensor)."""
    return torch.index_select(t, 0, at)


def _attend(bundle: ModelBundle, messages: tuple[Messages, Messages],
            at: tuple[torch.Tensor, torch.Tensor], vectors: tuple[torch.Tensor, torch.Tensor]
            ) -> tuple[torch.Tensor, PairOutput]:
    """Logits of the pairs ``(at[0][p], at[1][p])`` (rows of the per-entity ``messages``;
    ``vectors``: their indexed retrieval vectors, row ``p`` each, a copy this call may
    overwrite) and their last-layer output."""
    net = bundle.net
    out = net.attend(_cut(messages[0], at[0]), _cut(messages[1], at[1]))
    va = net.swap_h2(vectors[0], out.h2_a, query=True, inplace=True)
    vb = net.swap_h2(vectors[1], out.h2_b, query=False, inplace=True)
    return _biased(bundle, (va * vb).sum(-1)), out


def _biased(bundle: ModelBundle, dots: torch.Tensor) -> torch.Tensor:
    """Inner products of explicit vectors as the model's logits (BCE: plus its bias)."""
    net = bundle.net
    return dots + net.bce_bias if net.loss == "bce" else dots


def _retrieval_logits(bundle: ModelBundle, vectors: tuple[torch.Tensor, torch.Tensor]
                      ) -> torch.Tensor:
    """Pair logits of a model without cross-graph attention: its pair score *is* the retrieval
    score (α uniform gives the retrieval ``h2``), read from the indexed ``vectors`` alone."""
    return _biased(bundle, (vectors[0] * vectors[1]).sum(-1))


def side_view(bundle: ModelBundle, side: Side, nodes: list[int]) -> PairView:
    """The pair head's evidence rows of ``nodes`` (``model.pair_head.view_from_table`` of the
    full graph, read from the samples and the level-0 name cache), built as arrays: the
    sampled neighbours of the nodes and of those neighbours (a Python loop per slot and
    second-hop slot was most of a bulk refresh's scoring).

    The table of nodes and sampled neighbours is sorted by node, so a row's neighbour names
    are summed in node order whatever else is viewed with it: each row is a function of its
    entity's name, sample and neighbours alone (float32 sums of three or more rows depend on
    their order), which is what lets ``view_cache`` keep a row until its entity is affected."""
    n_anchors = len(bundle.frozen.anchors)
    at = np.asarray(nodes, dtype=np.int64)
    nbr, rel = side.samples.slot_table(at)
    table = setops.union1d(at, nbr[nbr >= 0])
    names = side.features.names(table)
    mine = np.searchsorted(table, at)  # table rows of the nodes
    hop1 = np.where(nbr >= 0, np.searchsorted(table, nbr), -1)  # and of their neighbours
    filled = hop1 >= 0  # the neighbours' own slots, (R, k, k) global, -1 padding:
    second_nbr = side.samples.slot_table(table)[0][hop1]
    second_nbr[~filled] = -1
    second_nbr[second_nbr == at[:, None, None]] = -1  # paths back
    adj = sp.csr_matrix((np.ones(int(filled.sum()), dtype=np.float32),
                         (np.nonzero(filled)[0], hop1[filled])), shape=(len(at), len(table)))
    return pair_view(names[mine], adj @ names, np.where(filled, rel, 0),
                     side.anchor_ids(nbr), side.anchor_ids(second_nbr), n_anchors,
                     side.features.name_keys(at))


def _head_features(bundle: ModelBundle, sides: tuple[Side, Side], group: _Group,
                   cache: FeatureCache | None = None, ends: TwoEnds | None = None
                   ) -> list[np.ndarray] | None:
    """The pair head's features of a group's pairs, :data:`PAIR_BLOCK` pairs a block (their
    sparse rows cut per pair are the largest transient of a long group), the model's score
    (column 0) left zero: every other feature is read from the entities' views alone, so this
    may run beside the logits (:func:`_scored`). With a ``cache``, a pair's own features are
    read back while its entities' own view parts stay. ``ends``: blocks a free caller takes
    from the back (:class:`TwoEnds`, each block's every pair computed, in cuts: the same
    bits, :func:`whole_features`, :func:`kept_whole`).
    ``None`` without a head."""
    if bundle.pair_head is None:
        return None
    views = (sides[0].views.view(group.unique[0], partial(side_view, bundle, sides[0])),
             sides[1].views.view(group.unique[1], partial(side_view, bundle, sides[1])))
    zero = np.zeros(len(group.lefts), dtype=np.float32)
    if cache is not None or ends is not None:  # the blocks' paths: features in cuts
        unsorted = unsorted_parts(views[0]), unsorted_parts(views[1])
    if cache is not None:
        keys = packed.join(group.lefts, group.rights)
        tags = packed.join(sides[0].views.own_versions(group.lefts),
                           sides[1].views.own_versions(group.rights))
    blocks = [slice(start, start + PAIR_BLOCK) for start in range(0, len(zero), PAIR_BLOCK)]
    plain = cache is None and ends is None

    def whole(i: int) -> np.ndarray:  # not closed over ``ends``, which holds it: a batch
        at = group.at[0][blocks[i]], group.at[1][blocks[i]]  # runs with the collector off,
        if plain:  # and that cycle kept every group's views to the call's end (decision 0121)
            return features(views[0], at[0], views[1], at[1], zero[blocks[i]])
        return whole_features(views, unsorted, at, zero[blocks[i]])

    if ends is not None:
        ends.start(len(blocks), whole)
    out = []
    for i, block in enumerate(blocks):
        at = group.at[0][block], group.at[1][block]
        if ends is not None and not ends.front(i):
            taken = ends.taken(i)
            out.append(taken if cache is None else
                       kept_whole(cache, unsorted, at, keys[block], tags[block], taken))
        else:
            out.append(whole(i) if cache is None
                       else cached_features(cache, views, unsorted, at, keys[block],
                                            tags[block], zero[block]))
    return out


def _link(bundle: ModelBundle, logits: torch.Tensor,
          feats: list[np.ndarray] | None) -> np.ndarray:
    """The published score of a group's pairs with these model logits: the pair head's
    probability over ``feats`` (:func:`_head_features`, the logits put in as their column 0:
    the bits ``features`` writes there) where the model has one, else the model's own link
    (sigmoid for BCE, the cosine for hinge)."""
    head = bundle.pair_head
    if head is None or feats is None:
        return (torch.sigmoid(logits) if bundle.net.loss == "bce" else logits).numpy()
    model, out, start = logits.numpy(), [], 0
    for block in feats:
        block[:, 0] = model[start:start + len(block)]
        out.append(head.scores(block))
        start += len(block)
    return np.concatenate(out or [np.zeros(0, dtype=np.float32)])


@dataclass
class _Group:
    """Consecutive pairs scored together: their nodes, and each side's distinct entities
    (sorted) with every pair's row among them."""

    lefts: np.ndarray  # int64 (G,) global nodes
    rights: np.ndarray
    unique: tuple[np.ndarray, np.ndarray]
    at: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, pairs: Sequence[tuple[int, int]]) -> _Group:
        nodes = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        ua, ia = np.unique(nodes[:, 0], return_inverse=True)
        ub, ib = np.unique(nodes[:, 1], return_inverse=True)
        return cls(nodes[:, 0], nodes[:, 1], (ua, ub), (ia, ib))


def score_pairs(bundle: ModelBundle, sides: tuple[Side, Side], pairs: Sequence[tuple[int, int]],
                chunk: int, evidence: int = 0, progress: Progress = no_progress,
                cache: FeatureCache | None = None
                ) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    """Scores of ``pairs`` (global ``(left, right)`` indices, each entity indexed) and, if
    asked, their evidence; ``chunk`` bounds a local encode of entities without a kept ``h1``.
    A model trained without cross-graph attention is scored from the vectors alone. Pairs go
    in groups (:func:`group_spans`: each entity's rows and view built once a group), the
    attention and the pair head's features in blocks of :data:`PAIR_BLOCK`."""
    return _scored(bundle, sides, pairs, chunk, evidence, progress, linked=True, cache=cache)


def pair_evidence(bundle: ModelBundle, sides: tuple[Side, Side],
                  pairs: Sequence[tuple[int, int]], chunk: int, top: int,
                  progress: Progress = no_progress, beside_work: bool = False
                  ) -> list[list[NeighbourPair]]:
    """The ``top`` evidence entries of each pair, without the pair head's score (events carry
    the score the pair book holds; the head's views were a third of an event's cost);
    ``beside_work``: other work runs beside this (the events' causes), so the attention goes
    in passes of :data:`BESIDE_BLOCK` (the same bits)."""
    return _scored(bundle, sides, pairs, chunk, top, progress, linked=False,
                   beside_work=beside_work)[1]


@torch.no_grad()
def _scored(bundle: ModelBundle, sides: tuple[Side, Side], pairs: Sequence[tuple[int, int]],
            chunk: int, evidence: int, progress: Progress, linked: bool,
            cache: FeatureCache | None = None, beside_work: bool = False
            ) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    scores = np.zeros(len(pairs), dtype=np.float32)
    explained: list[list[NeighbourPair]] = [[] for _ in pairs] if evidence else []
    nodes = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    groups = group_spans(nodes)
    two = second_thread()
    with passes_reuse_heap():  # each group's passes of PAIR_BLOCK reuse one another's pages
        for done, at in enumerate(chunks(range(len(groups)), progress, "pair scores")):
            beat = partial(progress, "pair scores", done, len(groups))
            span = groups[at]
            group = _Group.of(nodes[span])
            rows = _group_rows(bundle, sides, group, chunk, evidence, beat)
            head = linked and bundle.pair_head is not None
            on = head and two and len(group.lefts) >= BESIDE_PAIRS
            ends = TwoEnds() if on else None
            with beside(on) as run:
                feats = run(_head_features, bundle, sides, group, cache, ends) if head else None
                logits, found = _group_logits(bundle, sides, group, rows, evidence, beat,
                                              BESIDE_BLOCK if on or beside_work else None)
                if ends is not None and feats is not None:  # the logits done (≈ half the
                    ends.help(feats)  # features' CPU, decision 0109): feature blocks from the back
                if linked:
                    scores[span] = _link(bundle, logits, feats.result() if feats else None)
            if evidence:
                explained[span] = found
    return scores, explained


def group_spans(nodes: np.ndarray) -> list[slice]:
    """Consecutive spans of the pairs ``nodes`` (``(P, 2)``), each as long as
    :data:`GROUP_ENTITIES` distinct entities a side and :data:`GROUP_PAIRS` allow."""
    spans, start = [], 0
    while start < len(nodes):
        end = start + _group_length(nodes[start:start + GROUP_PAIRS])
        spans.append(slice(start, end))
        start = end
    return spans


def _group_length(nodes: np.ndarray) -> int:
    """How many leading pairs of ``nodes`` fit one group (at least one): windows doubled from
    :data:`GROUP_ENTITIES` pairs, so finding a group costs about its own length."""
    window = GROUP_ENTITIES
    while True:
        part = nodes[:window]
        fits = min(_within(part[:, 0]), _within(part[:, 1]))
        if fits < len(part) or len(part) == len(nodes):
            return max(fits, 1)
        window *= 2


def _within(column: np.ndarray) -> int:
    """The longest prefix of ``column`` with at most :data:`GROUP_ENTITIES` distinct values:
    all of it where it is that short or its values span fewer (a graph smaller than a group,
    as a steady refresh's pairs on DBP15K zh_en: no ``np.unique`` of its index, decision
    0113)."""
    if len(column) <= GROUP_ENTITIES or int(column.max()) - int(column.min()) < GROUP_ENTITIES:
        return len(column)
    first = np.zeros(len(column), dtype=np.int64)
    first[np.unique(column, return_index=True)[1]] = 1
    return int(np.searchsorted(np.cumsum(first), GROUP_ENTITIES, side="right"))


def _group_rows(bundle: ModelBundle, sides: tuple[Side, Side], group: _Group, chunk: int,
                evidence: int, beat: Beat) -> tuple[PairRows, PairRows] | tuple[()]:
    """Both sides' :class:`PairRows` of a group's entities where the logits attend (an
    encode of what no recompute kept: before the head's features start beside the logits,
    which read the same feature cache), else none."""
    if not (evidence or bundle.arch.cross_attention):  # else no re-rank to pay for
        return ()
    return (pair_rows(bundle, sides[0], group.unique[0].tolist(), chunk, beat),
            pair_rows(bundle, sides[1], group.unique[1].tolist(), chunk, beat))


def _group_logits(bundle: ModelBundle, sides: tuple[Side, Side], group: _Group,
                  rows: tuple[PairRows, PairRows] | tuple[()], evidence: int,
                  beat: Beat, block_pairs: int | None = None
                  ) -> tuple[torch.Tensor, list[list[NeighbourPair]]]:
    """Model logits of a group's pairs (and their ``evidence``), ``block_pairs`` (else
    :data:`PAIR_BLOCK`) at a time. Reads only ``rows``, the indexed vectors and the model:
    nothing the head's features write. The indexed vectors are read once per distinct entity
    of the group and cut per pair (a snapshot's pairs name each entity many times, and an
    IVF index decodes every row it reads from half floats, decision 0112), held as the index
    stores them and widened a pass at a time (half the bytes beside the head's features at a
    bulk refresh's peak, decision 0121)."""
    block_pairs = block_pairs or PAIR_BLOCK
    logits = torch.zeros(len(group.lefts), dtype=torch.float32)
    explained: list[list[NeighbourPair]] = []
    with torch_on_one_thread():
        messages = (_messages(bundle, rows[0]), _messages(bundle, rows[1])) if rows else ()
        held = (torch.from_numpy(sides[0].stored_vectors(group.unique[0])),
                torch.from_numpy(sides[1].stored_vectors(group.unique[1])))
        for start in range(0, len(group.lefts), block_pairs):
            block = slice(start, start + block_pairs)
            at = torch.from_numpy(group.at[0][block]), torch.from_numpy(group.at[1][block])
            vectors = (_rows(held[0], at[0]).to(torch.float32),  # fresh copies (``_attend``
                       _rows(held[1], at[1]).to(torch.float32))  # writes them), widened exactly
            if not rows:
                logits[block] = _retrieval_logits(bundle, vectors)
                continue
            logits[block], out = _attend(bundle, messages, at, vectors)
            if evidence:
                explained.extend(_evidence(bundle, rows, at, out.cross, evidence))
            beat()
    return logits, explained
