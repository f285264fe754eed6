"""Errors the engine raises on purpose.

Bad *input* is never raised: it comes back as a ``RejectedEventError`` in ``Outcome.rejected``
and becomes a dead letter. A stored embedding of another model version is not an error either:
it is queued for recompute on restore.
"""

from stream_align.errors import StreamAlignError


class EngineError(StreamAlignError):
    """Base class of the engine's errors (an engine bug or broken invariant, never bad input)."""
