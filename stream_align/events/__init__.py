"""Event contracts (``contracts``), their Avro schemas and the codec that puts them on the wire.

Everything another stage needs is importable from here; see ``codec`` for the wire formats and
``errors`` for the reason codes.
"""

from stream_align.events.codec import Codec, CodecSettings, Encoding
from stream_align.events.contracts import (
    CONTRACTS,
    AlignmentEvent,
    DeadLetter,
    Decision,
    Direction,
    Event,
    Evidence,
    Label,
    LabelValue,
    TripleChange,
    TripleOp,
    new_event_id,
    now_ms,
)
from stream_align.events.errors import CodecError, DecodeError, EncodeError, Reason
from stream_align.events.limits import InputLimits

__all__ = [
    "CONTRACTS",
    "AlignmentEvent",
    "Codec",
    "CodecError",
    "CodecSettings",
    "DeadLetter",
    "Decision",
    "DecodeError",
    "Direction",
    "EncodeError",
    "Encoding",
    "Event",
    "Evidence",
    "InputLimits",
    "Label",
    "LabelValue",
    "Reason",
    "TripleChange",
    "TripleOp",
    "new_event_id",
    "now_ms",
]
