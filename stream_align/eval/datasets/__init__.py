"""Benchmark dataset loaders: every layout under ``shared/datasets`` → :class:`GraphPair`."""

from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.loader import dataset_stats, load_dataset
from stream_align.graph import Graph, GraphPair, Snapshot

__all__ = ["DatasetError", "Graph", "GraphPair", "Snapshot", "dataset_stats", "load_dataset"]
