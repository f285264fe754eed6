"""Errors of the model stage: artifacts that cannot be trusted must stop loudly, never half-load."""

from stream_align.errors import StreamAlignError


class ModelError(StreamAlignError):
    """A model artifact is missing, corrupt or incompatible with this code (or a graph)."""
