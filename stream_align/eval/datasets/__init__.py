"""Benchmark dataset loaders: every layout under ``shared/datasets`` → :class:`GraphPair`."""
