"""Publish a stream of events to one topic, with a progress bar and an optional rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from tqdm import tqdm

from stream_align.events.contracts import Event
from stream_align.service.producer import EventProducer


def publish(producer: EventProducer, topic: str, events: Iterable[Event],
            key: Callable[[Event], str], total: int | None = None, rate: float | None = None,
            desc: str = "publishing", progress: bool = True) -> int:
    """Produce every event (``rate`` = max events per second); flush; return the count."""
    started = time.monotonic()
    count = 0
    with tqdm(total=total, desc=desc, unit="ev", disable=not progress, mininterval=1.0) as bar:
        for event in events:
            if rate:
                ahead = count / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            producer.send(topic, event, key=key(event))
            count += 1
            bar.update()
    producer.flush()
    return count
