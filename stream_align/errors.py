"""The root of every error stream-align raises on purpose.

Each stage has its own ``errors`` module with subclasses. Bad *input* (a malformed event, an
unknown entity) becomes a dead letter and never stops the service; *infrastructure* failures
(broker unreachable, corrupt store, incompatible model file) raise.
"""


class StreamAlignError(Exception):
    """Base class for stream-align's own errors."""
