"""The CSLS candidates of both sides' lists, kept current after each list repair (decision 0036).

Each side's :class:`ListTable` notes the rows set since the last refresh and the nodes whose hub
score moved (the mean of their own row's first ``csls_k`` scores). A list's CSLS order reads
only its own row and its members' hub scores, so the lists to re-rank are exactly

- the rows that were set (a repair, a search, a drop, a restore's read), and
- the rows of the other side that hold a node whose hub score moved (``listed_by``),

and re-ranking one is a read of its row and a sort of ``csls_depth`` numbers — no search, no
scan. A changed vector moves the hub scores of the lists it enters or leaves in their first
``csls_k`` places; each such hub re-ranks the lists holding it (about ``top_k + reserve`` on
average; more for a hub, which is the point).
"""

from __future__ import annotations

import numpy as np

from stream_align import setops
from stream_align.csls import rerank
from stream_align.engine.list_table import ListTable


def refresh(tables: tuple[ListTable, ListTable], depth: int, top_k: int
            ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Re-rank what is due on both sides; returns, per side, the keys ``owner << 32 | other``
    of the candidate pairs that entered or left, and the owners re-ranked."""
    due = [table.take_due() for table in tables]
    keys, ranked = [], []
    for s in (0, 1):
        mine, other = tables[s], tables[1 - s]
        _, holders = mine.listed_by.of(due[1 - s][1])
        nodes = setops.union1d(due[s][0], holders).astype(np.int64)
        members, scores, lengths = mine.rows(nodes)
        members, scores = members[:, :depth], scores[:, :depth]
        heads = rerank(members, scores, np.minimum(lengths, depth), other.hubs(members), top_k)
        keys.append(mine.set_heads(nodes, heads))
        ranked.append(nodes)
    return (keys[0], keys[1]), (ranked[0], ranked[1])
