"""Turn an input record that could not be used into a DeadLetter: what, where and why.

The dead letter keeps the original bytes so nothing is lost. A record too large to fit in a
dead letter (the oversized-input case) keeps its first ``keep_bytes`` and says so in the
message; its topic/partition/offset still point at the whole record in the source topic.
"""

from __future__ import annotations

import structlog
from confluent_kafka import Message

from stream_align.events.contracts import DeadLetter

log = structlog.get_logger("stream_align.dead_letters")


def dead_letter_for(msg: Message, error: object, keep_bytes: int) -> DeadLetter:
    """The DeadLetter for ``msg``; ``error`` is an exception or an engine ``Rejection``: its
    ``reason`` (or else its class) names the cause, its ``message`` (or ``str``) explains."""
    original = msg.value() or b""
    reason = getattr(error, "reason", None)
    message = getattr(error, "message", None) or str(error)
    if len(original) > keep_bytes:
        message = f"{message} [original {len(original)} bytes, first {keep_bytes} kept]"
        original = original[:keep_bytes]
    error_class = str(reason) if reason is not None else type(error).__name__
    return DeadLetter.new(
        original=original,
        error_class=error_class,
        error_message=message,
        topic=msg.topic(),
        partition=msg.partition(),
        offset=msg.offset(),
        id_from=(msg.topic(), msg.partition(), msg.offset()),
    )


def log_dead_letter(letter: DeadLetter) -> None:
    """One warning per dead letter: why and where it came from — never the payload or the
    error text (which can quote it), so hostile input cannot reach the logs."""
    log.warning("dead letter", reason=letter.error_class, topic=letter.topic,
                partition=letter.partition, offset=letter.offset, event_id=letter.event_id)
