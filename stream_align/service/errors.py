"""Errors of the Kafka edge: infrastructure failures that must stop the process loudly."""

from stream_align.errors import StreamAlignError


class KafkaUnavailableError(StreamAlignError):
    """The broker could not be reached or refused an administrative request."""


class DeliveryError(StreamAlignError):
    """A record could not be delivered to its topic."""
