"""Errors of the dataset loaders: a directory that is no known benchmark layout, or is malformed."""

from stream_align.errors import StreamAlignError


class DatasetError(StreamAlignError):
    """A dataset directory cannot be read: unknown layout or inconsistent files."""
