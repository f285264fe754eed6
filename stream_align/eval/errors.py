"""Errors of the evaluation harness: a benchmark that cannot run as asked."""

from stream_align.errors import StreamAlignError


class EvaluationError(StreamAlignError):
    """Unknown method, missing model, or a model evaluated on a split it was not trained for."""
