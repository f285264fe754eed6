"""A transaction: every write of one processing step, committed as one atomic RocksDB batch.

Modelled on quix-streams' partition transaction: writes are staged in memory (and visible to
the transaction's own reads), and the commit runs in explicit steps - *prepare* freezes the
staged writes into a change list, *flush* writes them as one ``WriteBatch``. Nothing reaches the
database before the flush, so an exception anywhere before it leaves no trace; the flush itself
is all-or-nothing (see ``database``).
"""

from collections.abc import Iterator
from enum import Enum
from types import TracebackType

from stream_align.store.applied_ids import AppliedIds
from stream_align.store.candidate_store import CandidateStore
from stream_align.store.database import Database
from stream_align.store.decision_store import DecisionStore
from stream_align.store.delivery_store import DeliveryStore
from stream_align.store.embedding_store import EmbeddingStore
from stream_align.store.errors import TransactionStateError
from stream_align.store.event_sequence import EventSequence
from stream_align.store.graph_store import GraphStore
from stream_align.store.keys import Table
from stream_align.store.label_store import LabelStore
from stream_align.store.level_one_store import LevelOneStore
from stream_align.store.pending import PendingWrites
from stream_align.store.recompute_queue import RecomputeQueue
from stream_align.store.settings import StoreSettings


class TxState(Enum):
    """OPEN -> PREPARED -> COMMITTED (FAILED if the flush raised), or OPEN -> ROLLED_BACK."""

    OPEN = "open"
    PREPARED = "prepared"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


class Transaction:
    """Use as ``with store.transaction() as tx:`` - commits on a clean exit, discards on error."""

    def __init__(self, database: Database, settings: StoreSettings) -> None:
        self._database = database
        self._kv = PendingWrites(database)
        self.state = TxState.OPEN
        self.graph = GraphStore(self._kv, settings)
        self.embeddings = EmbeddingStore(self._kv, settings)
        self.level1 = LevelOneStore(self._kv, settings)
        self.candidates = CandidateStore(self._kv, settings)
        self.decisions = DecisionStore(self._kv)
        self.delivery = DeliveryStore(self._kv)
        self.labels = LabelStore(self._kv)
        self.recompute = RecomputeQueue(self._kv, settings)
        self.event_seq = EventSequence(self._kv)
        self.applied = AppliedIds(self._kv)

    def rows(self, table: Table) -> Iterator[tuple[bytes, bytes]]:
        """Raw rows of a table as this transaction sees them, in key order (digests, tooling)."""
        return self._kv.scan(table)

    def commit(self) -> int:
        """Write every staged change in one atomic batch; return the number of changes."""
        if self.state is not TxState.OPEN:
            raise TransactionStateError(f"cannot commit a transaction that is {self.state.value}")
        self.state = TxState.PREPARED
        try:  # each table's staged writes go into the batch as held: a list of a bulk batch's
            # ≈ 600,000 changes held every change's tuple at once (the collector walked them);
            # handed over, each staged value is freed once the batch holds a copy
            cleared = self._kv.cleared()
            written = self._database.write_tables(self._kv.handed_over(), cleared)
        except BaseException:
            self.state = TxState.FAILED
            raise
        finally:
            self._kv.close()
        self.state = TxState.COMMITTED
        return written

    def rollback(self) -> None:
        """Discard every staged change; a no-op once the transaction has ended."""
        if self.state is TxState.OPEN:
            self._kv.close()
            self.state = TxState.ROLLED_BACK

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.rollback()
        elif self.state is TxState.OPEN:
            self.commit()
