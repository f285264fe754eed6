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

Most of those moves are far too small to reorder anything: a steady insert recomputes ≈ 11
vectors that mostly move by ≈ 1e-6 in cosine, yet a 100-insert batch re-ranked ≈ 87 % of all
lists, a 1,000-insert batch all of them (decision 0076). So each list keeps a *slack*: the
least gap between consecutive CSLS scores across its first ``top_k`` places at its last
re-rank (``csls.rerank_slack``). A list not set whose members' hubs moved is re-ranked only
when twice the largest move exceeds the slack left, which is spent by as much otherwise —
exactly the heads a re-rank would give, from a read of the moves alone (8 B a node). A row
set again whose members stayed (only their scores moved, the usual repair) is judged the
same way, by how far its own scores moved.
"""

from __future__ import annotations

import numpy as np

from stream_align import setops
from stream_align.csls import rerank_slack
from stream_align.engine.list_table import ListTable
from stream_align.engine.side_pair import Both, serial

RERANK_ROWS = 65_536
"""Rows re-ranked at a time: a row's re-rank reads only its own row and its members' hub
scores, and a bulk refresh re-ranks every list — at once that held ≈ 1 KB a row of copies
and ``float64`` scores, ≈ 1 GB a side at 1M a side (decision 0133)."""
SHIFT_MARGIN = 1e-9
"""Relative margin on each move a kept row's slack is spent by: the moves are float64
differences and sums of hub scores (a few ``2**-53`` of their size off at most)."""


def refresh(tables: tuple[ListTable, ListTable], depth: int, top_k: int, both: Both = serial,
            moves: bool = True
            ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Re-rank what is due on both sides; returns, per side, the keys ``owner << 32 | other``
    of the candidate pairs that entered or left (``moves`` False: none looked for, empty — a
    restore's heads are all new and nothing reads them), and the owners re-ranked. ``both``
    may run the sides at once (a restore): a side reads the other's hub scores, writes its
    own heads and slack."""
    due = [table.take_due() for table in tables]

    def rerank(s: int) -> tuple[np.ndarray, np.ndarray]:
        mine, other = tables[s], tables[1 - s]
        nodes = _due_rows(mine, *due[s][:2], *due[1 - s][2:])
        mine.reserve(int(nodes.max()) + 1 if len(nodes) else 0)
        keys = [_rerank_rows(mine, other, nodes[lo:lo + RERANK_ROWS], depth, top_k, moves)
                for lo in range(0, len(nodes), RERANK_ROWS)]
        return np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64), nodes

    done = both(rerank)
    return (done[0][0], done[1][0]), (done[0][1], done[1][1])


def _rerank_rows(mine: ListTable, other: ListTable, nodes: np.ndarray, depth: int,
                 top_k: int, moves: bool) -> np.ndarray:
    """Re-rank the rows of ``nodes`` (ascending, distinct) and set their heads; returns the
    keys of the candidate pairs that entered or left, ascending (``moves`` False: none)."""
    members, scores, lengths = mine.rows(nodes)
    members, scores = members[:, :depth], scores[:, :depth]
    heads, slack = rerank_slack(members, scores, np.minimum(lengths, depth),
                                other.hubs(members), top_k)
    return mine.set_heads(nodes, heads, slack, moves)


def _due_rows(mine: ListTable, set_rows: np.ndarray, drift: np.ndarray, moved: np.ndarray,
              shift: np.ndarray) -> np.ndarray:
    """The rows of ``mine`` to re-rank: among those set since the last refresh (their own
    scores moved by ``drift``, ``inf`` where their members changed) and those holding a
    ``moved`` hub (by ``shift``), the ones whose slack does not cover the move. A member's
    CSLS score ``2 s − r`` moves by at most twice its score's move plus its hub's, so two
    members' gap by at most twice the row's largest such move; the slack (the least gap
    across the first ``top_k`` places at the last re-rank, less what was spent since) is
    spent by that (with a margin, ``SHIFT_MARGIN``; the slack leaves out the scores'
    rounding, ``csls.rerank_slack``). Exact: a row kept has the heads a re-rank would give,
    as its members stayed and their scores and hubs moved by at most the moves spent. Where
    every row with members is among those set anew (a restore sets every row), no other row
    holds a moved hub: the holders are not looked up (at 200K a side, half a restore's
    re-rank was finding every row's holders only to drop them all)."""
    whole = set_rows[np.isinf(drift)]  # re-ranked whatever their hubs did: not summed
    if mine.listed_within(whole):  # no other row holds a member (a restore: every row set)
        at, holders = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    else:
        at, holders = mine.listed_by.of(moved)
        if len(whole):
            other = ~setops.in_sorted(holders, whole)
            at, holders = at[other], holders[other]
    holders, largest = _largest(holders, shift[at])
    rows = setops.union1d(set_rows, holders)  # ``set_rows`` are distinct, as ``holders`` now
    need = np.zeros(len(rows))
    need[np.searchsorted(rows, set_rows)] = 2.0 * drift
    need[np.searchsorted(rows, holders)] += largest
    need = 2.0 * need * (1.0 + SHIFT_MARGIN)
    return rows[~mine.keep_heads(rows, need)].astype(np.int64)


def _largest(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys``, ascending, and each one's largest value (one sort and a
    ``reduceat``: ``np.unique`` with its inverse and ``np.maximum.at`` took twice as long)."""
    if not len(keys):
        return keys.astype(np.int64), np.zeros(0)
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[starts].astype(np.int64), np.maximum.reduceat(values, starts)
