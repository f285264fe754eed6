"""What a restart and the outbox publisher need, kept apart from the storage code.

On restart the service (1) seeks every assigned partition to its stored offset, (2) publishes
whatever is still in the outbox - records committed before the crash but not yet acknowledged -
and (3) rebuilds its FAISS indexes from the stored embeddings. ``state_digest`` lets tests
compare a crashed-and-restarted run with an uninterrupted one.
"""

import hashlib
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from stream_align.store.keys import Table
from stream_align.store.records import OutboxEntry, StoredEmbedding, TopicPartition
from stream_align.store.state_store import StateStore

_DIGEST_TABLES = (
    Table.ENTITY,
    Table.FORWARD,
    Table.REVERSE,
    Table.DEGREE,
    Table.DECISION_BY_RIGHT,
    Table.OFFSET,
)
_LEN = struct.Struct(">I")


class IndexVector(NamedTuple):
    """One stored embedding with the FAISS id it is indexed under (None if it has none yet)."""

    entity: str
    faiss_id: int | None
    embedding: StoredEmbedding


def stored_offsets(
    store: StateStore, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Next offset per partition; partitions with no stored offset are left out."""
    with store.transaction() as tx:
        found = {tp: tx.delivery.offset(tp.topic, tp.partition) for tp in partitions}
    return {tp: offset for tp, offset in found.items() if offset is not None}


def all_offsets(store: StateStore) -> dict[TopicPartition, int]:
    """Every stored next offset: where a restored state resumes reading."""
    with store.transaction() as tx:
        return dict(tx.delivery.offsets())


def iter_outbox(store: StateStore) -> Iterator[OutboxEntry]:
    """Unacknowledged outbox entries in sequence order."""
    with store.transaction() as tx:
        yield from tx.delivery.outbox()


def discard_open_outbox(store: StateStore) -> int:
    """Delete the outbox slices of a batch that did not commit (``DeliveryStore.discard_open``;
    a restart does it before publishing); return how many entries."""
    with store.transaction() as tx:
        return tx.delivery.discard_open()


def undo_row_slices(store: StateStore, per_transaction: int = 16_384) -> int:
    """Put back the candidate rows (and state) a batch's row slices kept before it was killed,
    ``per_transaction`` rows a transaction (``CandidateStore.undo_some``: the stored state
    stays not current until the last one); return how many rows."""
    done = 0
    while True:
        with store.transaction() as tx:
            if not (undone := tx.candidates.undo_some(per_transaction)):
                return done
        done += undone


def ack_outbox(store: StateStore, up_to_seq: int) -> int:
    """Delete published entries (``seq <= up_to_seq``) in one batch; return how many."""
    with store.transaction() as tx:
        return tx.delivery.ack(up_to_seq)


def iter_embeddings(store: StateStore, graph: str) -> Iterator[IndexVector]:
    """Every stored embedding of ``graph`` with its FAISS id, for rebuilding the index."""
    with store.transaction() as tx:
        for entity, embedding in tx.embeddings.all(graph):
            yield IndexVector(entity, tx.embeddings.faiss_id(graph, entity), embedding)


def state_digest(store: StateStore, score_places: int | None = None) -> str:
    """SHA-256 of the logical state: both graphs, decisions and offsets (not outbox, embeddings).

    Graph and offset tables are hashed byte for byte. Decisions are hashed as values so that
    ``score_places`` can round scores, for runs whose batching differs in the last float bits.
    """
    digest = hashlib.sha256()

    def feed(*chunks: bytes) -> None:
        for chunk in chunks:
            digest.update(_LEN.pack(len(chunk)) + chunk)

    with store.transaction() as tx:
        for table in _DIGEST_TABLES:
            feed(table.value.encode())
            for key, value in tx.rows(table):
                feed(key, value)
        feed(Table.DECISION.value.encode())
        for decision in tx.decisions.all():
            score = decision.score if score_places is None else round(decision.score, score_places)
            feed(*(part.encode() for part in (decision.left, decision.right, decision.decision)))
            feed(repr(score).encode())
    return digest.hexdigest()
