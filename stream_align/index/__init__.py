"""FAISS vector indexes (one per graph) with add/remove by id."""

from stream_align.index.vector_index import VectorIndex

__all__ = ["VectorIndex"]
