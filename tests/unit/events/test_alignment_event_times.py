"""``decided_at`` is a compatible addition: records without it still decode, both encodings
carry it."""

from __future__ import annotations

import json

import pytest

from stream_align.events import AlignmentEvent, Codec, CodecSettings, Encoding

EVENT = AlignmentEvent.new(left="a", right="b", decision="MATCH", score=0.9,
                           model_version="v1", cause=("t1",), event_time=1_600_000_000_000,
                           decided_at=1_700_000_000_123)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_decided_at_round_trips(encoding: Encoding) -> None:
    codec = Codec(AlignmentEvent, CodecSettings(encoding=encoding))
    assert codec.decode(codec.encode(EVENT)) == EVENT


def test_a_record_written_before_decided_at_reads_as_null() -> None:
    old = EVENT.to_record()
    del old["decided_at"]
    decoded = Codec(AlignmentEvent).decode(json.dumps(old).encode())
    assert decoded.decided_at is None
    assert decoded == EVENT.model_copy(update={"decided_at": None})
