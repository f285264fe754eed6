"""Consumed records as the span code reads them (topic, partition, headers), without a broker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Record:
    where: str
    at: int
    header_list: tuple[tuple[str, bytes], ...] = ()

    def topic(self) -> str:
        return self.where

    def partition(self) -> int:
        return self.at

    def headers(self) -> list[tuple[str, bytes]] | None:
        return list(self.header_list) or None


def traced(topic: str, partition: int, trace_id: int, span_id: int) -> Record:
    """A record whose producer put its span in a W3C ``traceparent`` header."""
    parent = f"00-{trace_id:032x}-{span_id:016x}-01".encode()
    return Record(topic, partition, (("traceparent", parent), ("other", b"x")))
