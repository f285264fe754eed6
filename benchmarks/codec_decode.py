"""Per-event decode cost of the codec, JSON and Avro (with the input limits of decision 0019).

10,000 TripleChange records (upserts with two attributes, triples with URI keys), best of five
passes. Compare two checkouts by running it from each, interleaved, on the same machine:
``PYTHONPATH=$PWD python benchmarks/codec_decode.py LABEL`` prints ``LABEL encoding µs/event``.
"""

from __future__ import annotations

import sys
import time

from stream_align.events import Codec, CodecSettings, Encoding, TripleChange

RESOURCE = "http://a.example/resource/entity_"


def main(label: str) -> None:
    events = []
    for i in range(5000):
        events.append(TripleChange.upsert_entity(
            "A", f"{RESOURCE}{i}", attributes={"name": f"entity name {i}", "year": "1999"}))
        events.append(TripleChange.add_triple(
            "A", f"{RESOURCE}{i}", "http://a.example/rel3", f"{RESOURCE}{i + 1}"))
    for encoding in (Encoding.JSON, Encoding.AVRO):
        codec = Codec(TripleChange, CodecSettings(encoding=encoding))
        data = [codec.encode(event) for event in events]
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            for value in data:
                codec.decode(value)
            best = min(best, time.perf_counter() - started)
        print(label, encoding.value, f"{best / len(data) * 1e6:.1f} us/event")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "this")
