"""The state store: one RocksDB database holding everything the service must recover.

Unlike quix-streams, which opens one database per Kafka partition, stream-align keeps a single
database for all partitions: a triple change reads neighbourhoods that other partitions own, and
the offsets of every partition must commit in the same batch as the state they produced.
"""

from pathlib import Path
from types import TracebackType

from stream_align.store.database import Database
from stream_align.store.errors import StoreClosedError, StoreError
from stream_align.store.keys import Table, read_u64, u64
from stream_align.store.settings import StoreSettings
from stream_align.store.transaction import Transaction

LAYOUT_VERSION = 1
_LAYOUT_KEY = b"layout_version"
_MODEL_KEY = b"model_version"


class StateStore:
    """Open with ``StateStore(settings)``; all reads and writes go through ``transaction()``."""

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self._database: Database | None = Database(settings)
        self._check_layout(self._database)

    @staticmethod
    def _check_layout(database: Database) -> None:
        """Refuse a database written with another key layout instead of misreading it."""
        stored = database.get(Table.META, _LAYOUT_KEY)
        if stored is None:
            database.write([(Table.META, _LAYOUT_KEY, u64(LAYOUT_VERSION))])
        elif read_u64(stored) != LAYOUT_VERSION:
            database.close()
            raise StoreError(
                f"store layout version {read_u64(stored)} != supported {LAYOUT_VERSION}"
            )

    def _open(self) -> Database:
        if self._database is None:
            raise StoreClosedError("the state store is closed")
        return self._database

    def layout_version(self) -> int:
        """The key layout this database was written with (checked on open)."""
        return read_u64(self._open().get(Table.META, _LAYOUT_KEY) or u64(LAYOUT_VERSION))

    def model_version(self) -> str | None:
        """The model the service last served this state with (None: never served)."""
        stored = self._open().get(Table.META, _MODEL_KEY)
        return None if stored is None else stored.decode()

    def set_model_version(self, version: str) -> None:
        """Record the model serving this state, so a backup can say which model it needs."""
        self._open().write([(Table.META, _MODEL_KEY, version.encode())])

    def checkpoint(self, path: Path) -> None:
        """A consistent copy of the whole state at ``path``, taken while it is in use."""
        self._open().checkpoint(path)

    def transaction(self) -> Transaction:
        """A new transaction; run one writing transaction at a time (counters are not locked)."""
        if self._database is None:
            raise StoreClosedError("the state store is closed")
        return Transaction(self._database, self.settings)

    def close(self) -> None:
        """Close the database and release its lock; idempotent."""
        if self._database is not None:
            self._database.close()
            self._database = None

    def __enter__(self) -> "StateStore":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
