"""The pure incremental alignment engine (no Kafka): see ``engine.AlignmentEngine``."""

from stream_align.engine.engine import AlignmentEngine, Outcome
from stream_align.engine.settings import EngineSettings

__all__ = ["AlignmentEngine", "EngineSettings", "Outcome"]
