"""A refresh's candidate list and pair rows committed in slices before the rest of its delta.

A bulk refresh rewrites every list and pair row (400,000 lists and 3.4M pairs at 200K entities
a side). In one atomic batch with the refresh's decisions and events those rows were held as
staged values, as RocksDB's write batch and as its memtable at once: the service's peak at 200K
a side (decisions 0081, 0086). Rows are not decisions: a restore reads stored rows only when the
stored candidates state is its own fingerprint and otherwise rebuilds every list and pair score
from the stored vectors (``candidate_state``), as it does after any crash during a held drain.
So the rows go first, ``runner.commit_slice_rows`` at a time, each slice its own transaction,
the first one marking the stored rows not current (``""``; and clearing them where the delta
resets them); the batch's own transaction then writes the rest of the delta, its decisions,
events, offsets and the state that makes the rows current again. A kill -9 after any slice
leaves rows marked not current with the decisions, events, vectors and offsets of before the
batch: the restart rebuilds the rows and re-runs the batch, as a kill before its commit did.

A delta of at most a slice (a steady tail's small batches) commits as before; where the rows
were current and stay so, the batch's commit writes the stored state back.

Where the stored rows were current before the batch and it does not reset them (a steady
batch that writes more than a slice: 126,000–474,000 delta rows a batch in the 200K tail), each
slice also keeps the rows it overwrites as they were, and the first one the stored state
(``CandidateStore.keep_before``; ``Table.KEPT``), which the batch's own commit forgets
(``forget_kept``). A restart after a kill between slices puts them back
(``store.recovery.undo_row_slices``) — the rows and state of before the batch, current — so it
reads them instead of rebuilding every list and pair score (decision 0090). A bulk refresh
(rows not current before, or reset) keeps nothing: its restart rebuilds, as before.
"""

from __future__ import annotations

from collections.abc import Iterator

from stream_align.engine.delta import ListRows, PairScoreRows, StateDelta
from stream_align.store.state_store import StateStore
from stream_align.store.transaction import Transaction


def candidate_rows(delta: StateDelta) -> int:
    """The list and pair rows ``delta`` writes."""
    pairs = 0 if delta.pair_scores is None else len(delta.pair_scores)
    return sum(len(rows) for rows in delta.lists.values()) + pairs


def commit_rows_first(store: StateStore, delta: StateDelta, rows: int) -> int:
    """Commit ``delta``'s list and pair rows in slices of ``rows`` (see the module) and take
    them out of it; return the slices committed (0: ``delta`` left as it was)."""
    if candidate_rows(delta) <= rows:
        return 0
    slices, keep = 0, False
    for graph_id, part in _parts(delta, rows):
        with store.transaction() as tx:
            if not slices:
                before = tx.candidates.state()
                if delta.candidates is None:  # unchanged: the batch's commit puts it back
                    delta.candidates = before
                if keep := bool(before) and not delta.candidates_reset:
                    tx.candidates.keep_state_before(before or "")
                if delta.candidates_reset:
                    tx.candidates.clear()
                tx.candidates.set_state("")  # not current until the batch's own commit
            if keep:  # current rows before: a restart puts them back instead of rebuilding
                tx.candidates.keep_before(graph_id or None, part.keys)
            if isinstance(part, ListRows):
                tx.candidates.put_lists(graph_id, part.keys, part.bounds, part.members,
                                        part.scores, part.cells, part.anchors)
            else:
                tx.candidates.put_pair_rows(part.keys, part.offsets, part.rights, part.scores)
        slices += 1
    delta.lists, delta.pair_scores, delta.candidates_reset = {}, None, False
    return slices


def forget_kept(tx: Transaction, slices: int) -> None:
    """In the batch's own transaction: what ``slices`` kept is no longer needed."""
    if slices:
        tx.candidates.drop_kept()


def _parts(delta: StateDelta, rows: int) -> Iterator[tuple[str, ListRows | PairScoreRows]]:
    """Each graph's list rows, then the pair rows, ``rows`` at a time, each part built as it
    is reached (``RowParts``: the refresh's rows are never held whole, decision 0097)."""
    for graph_id, lists in delta.lists.items():
        for lo in range(0, len(lists), rows):
            yield graph_id, lists.part(lo, lo + rows)
    if (pairs := delta.pair_scores) is not None:
        for lo in range(0, len(pairs), rows):
            yield "", pairs.part(lo, lo + rows)
