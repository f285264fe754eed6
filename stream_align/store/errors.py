"""Errors raised by the state store.

Callers treat them differently: an ``InvalidValueError`` means the *caller* handed the store
something it cannot encode (the service dead-letters the event that carried it), while
``CorruptValueError`` and ``StoreClosedError`` are infrastructure failures that stop processing.
"""

from stream_align.errors import StreamAlignError


class StoreError(StreamAlignError):
    """Base class for state-store failures."""


class StoreClosedError(StoreError):
    """The store was used after ``close()``."""


class CorruptValueError(StoreError):
    """Stored bytes do not decode: the database was written by something else or is damaged."""


class InvalidValueError(StoreError):
    """A value handed to the store cannot be stored (too long, wrong shape, wrong type)."""


class UnknownGraphError(InvalidValueError):
    """A graph id that is not one of the two configured graphs."""


class TransactionStateError(StoreError):
    """A transaction was used after it was committed or rolled back."""


class StoreLockedError(StoreError):
    """Another process (a running service) holds the database's lock."""


class BackupError(StoreError):
    """A backup could not be taken, or a backup cannot be restored as asked."""
