"""FAISS vector indexes (one per graph) with add/remove by id: exact flat, or IVF cells."""

from stream_align.index.ivf_index import (
    IvfVectorIndex,
    auto_cells,
    train_quantiser,
    training_rows,
)
from stream_align.index.ladder import rung, train_ladder
from stream_align.index.vector_index import VectorIndex

__all__ = ["IvfVectorIndex", "VectorIndex", "auto_cells", "rung", "train_ladder", "train_quantiser",
           "training_rows"]
