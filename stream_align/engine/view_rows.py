"""The pair head's view rows of one graph's entities, built from the engine's own tables.

What ``model.pair_head.view_from_table`` cuts from a whole graph, built here for a few entities
from the samples' slot table and the level-0 name cache (``feature_cache``): no local graph.
``view_cache`` keeps the rows; ``scoring`` reads them for the pair head's features.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align import setops
from stream_align.engine.side import Side
from stream_align.model.bundle import ModelBundle
from stream_align.model.pair_head import PairView, pair_view


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
