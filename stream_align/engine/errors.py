"""Errors the engine raises on purpose (bad *input* is never raised: it is a rejection)."""

from stream_align.errors import StreamAlignError


class EngineError(StreamAlignError):
    """Base class of the engine's errors."""


class ModelMismatchError(EngineError):
    """The stored state was computed by another model version than the one loaded."""
