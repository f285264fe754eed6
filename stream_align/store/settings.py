"""Settings of the state store: where it lives, how durable a commit is, how RocksDB is tuned."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stream_align.store.errors import UnknownGraphError

Compression = Literal["none", "lz4", "zstd", "snappy"]


class StoreSettings(BaseModel):
    """One frozen model so the service can validate and print its whole store configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path = Field(description="Directory of the RocksDB database; created if missing.")
    graph_ids: tuple[str, str] = Field(
        default=("A", "B"),
        description="Ids of the left and right graph; any other graph id is rejected.",
    )
    sync_writes: bool = Field(
        default=False,
        description=(
            "fsync the write-ahead log on every commit. Off survives a killed process (the WAL "
            "is in the OS page cache); on also survives power loss, at one fsync per commit."
        ),
    )
    compression: Compression = Field(
        default="lz4",
        description="Block compression of every table except embeddings (floats do not compress).",
    )
    block_cache_mb: int = Field(
        default=64, ge=1, description="Size of the block cache shared by all tables, in MiB."
    )
    memtable_budget_mb: int = Field(
        default=64,
        ge=4,
        description="Total memory for memtables across all tables, in MiB (db_write_buffer_size).",
    )
    bloom_bits_per_key: int = Field(
        default=10,
        ge=0,
        description="Bloom filter bits per key for point lookups (triple existence); 0 disables.",
    )
    cache_index_and_filters: bool = Field(
        default=True,
        description=(
            "Keep table files' index and bloom-filter blocks in the block cache, so RocksDB's "
            "memory is bounded by block_cache_mb + memtable_budget_mb; off keeps them all in "
            "memory (faster point lookups, memory growing with the data)."
        ),
    )
    partition_index_and_filters: bool = Field(
        default=True,
        description=(
            "With cache_index_and_filters: split each table file's index and bloom filter into "
            "partitions of metadata_block_bytes, only the top level pinned. A whole filter of a "
            "64 MB table file is larger than a block-cache shard, so unpartitioned it is read "
            "from disk again on every lookup once the graphs are large (decision 0129)."
        ),
    )
    metadata_block_bytes: int = Field(
        default=4096,
        ge=512,
        description="Size of one index or filter partition (partition_index_and_filters), bytes.",
    )
    max_background_jobs: int = Field(
        default=2, ge=1, description="RocksDB threads for flushes and compactions."
    )
    max_open_files: int = Field(
        default=-1, ge=-1, description="Table files kept open; -1 keeps all open."
    )

    @model_validator(mode="after")
    def _distinct_graphs(self) -> "StoreSettings":
        """Two equal ids would silently merge both graphs into one key space."""
        if self.graph_ids[0] == self.graph_ids[1]:
            raise ValueError(f"graph_ids must differ, got {self.graph_ids}")
        return self

    def check_graph(self, graph: str) -> None:
        """Reject a graph id that is not configured, before it reaches a key."""
        if graph not in self.graph_ids:
            raise UnknownGraphError(f"unknown graph id {graph!r}; expected one of {self.graph_ids}")
