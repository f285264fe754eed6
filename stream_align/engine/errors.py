"""What the engine reports about its input: rejections (data) and input failures (errors).

Bad *input* is never raised: it comes back as a ``Rejection`` in ``Outcome.rejected`` and
becomes a dead letter. A stored embedding of another model version is not an error either:
it is queued for recompute on restore. The engine knows nothing of the store's or the
service's errors; when applying one input raises (something the decode-time limits let
through and the store refused), it says *which* input with an ``InputFailedError`` whose
``__cause__`` is the original error, and the caller decides whether that input is bad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stream_align.errors import StreamAlignError

InputKind = Literal["change", "label"]


@dataclass(frozen=True)
class Rejection:
    """An input the engine will not apply: a one-word ``reason`` and a ``message``."""

    reason: str
    message: str


class EngineError(StreamAlignError):
    """Base class of the engine's errors."""


class InputFailedError(EngineError):
    """Applying input ``position`` of the batch's ``kind`` list raised (see ``__cause__``).

    The engine's memory may now be ahead of the transaction, which the caller must roll back:
    rebuild the engine (``AlignmentEngine.restore``) before the next batch.
    """

    def __init__(self, kind: InputKind, position: int) -> None:
        super().__init__(f"applying {kind} {position} of the batch failed")
        self.kind: InputKind = kind
        self.position = position
