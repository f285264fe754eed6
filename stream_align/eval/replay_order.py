"""The orders a dataset can be replayed in (see :mod:`stream_align.eval.replay`).

Its own module, importing nothing, so that ``stream-align replay --help`` can list the choices
without loading the event contracts (fastavro, numpy).
"""

from enum import StrEnum


class ReplayOrder(StrEnum):
    FILE = "file"
    SHUFFLE = "shuffle"
    SNAPSHOTS = "snapshots"
