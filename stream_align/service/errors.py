"""Errors of the Kafka edge: infrastructure failures that must stop the process loudly."""

from stream_align.errors import StreamAlignError


class KafkaUnavailableError(StreamAlignError):
    """The broker could not be reached or refused an administrative request."""


class TopicSetupError(StreamAlignError):
    """A topic of the flow is missing or set up so the service cannot keep its promises."""


class DeliveryError(StreamAlignError):
    """A record could not be delivered to its topic."""


class RejectedEventError(StreamAlignError):
    """A well-formed event the service will not apply (e.g. an unknown graph id): a dead letter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message


class EngineStateError(StreamAlignError):
    """An engine's state delta does not continue the stored state (the engine was not restored
    from this store): writing it would hand out stored ids again."""
