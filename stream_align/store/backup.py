"""Back up and restore the state store: a RocksDB checkpoint plus what it takes to trust it.

A backup directory holds ``db/`` (a RocksDB checkpoint: every column family at the same commit,
so graphs, embeddings, decisions, the outbox and the input offsets agree) and ``backup.json``
(written last: a backup without it is incomplete) with the store layout and the model version
the state was served with, and the offsets it resumes from. Restoring copies ``db/`` into an
empty state directory; the service then resumes every input partition from those offsets,
re-reads what came after and converges to the state an uninterrupted run has (decision 0023).

The checkpoint must be taken by the process that holds the database lock (the running service
or, when it is stopped, the backup command itself): see :meth:`Database.checkpoint`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from stream_align.store.errors import BackupError, StoreError, StoreLockedError
from stream_align.store.recovery import all_offsets
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import LAYOUT_VERSION, StateStore

FORMAT = "stream-align-state-backup"
FORMAT_VERSION = 1
METADATA, DB_DIR = "backup.json", "db"
_ROCKSDB_COMMIT_FILE = "CURRENT"  # names the live MANIFEST: copied last on restore


class BackupInfo(BaseModel):
    """What ``backup.json`` records about one backup."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["stream-align-state-backup"] = FORMAT
    format_version: int = FORMAT_VERSION
    layout_version: int
    model_version: str | None
    created_ms: int
    offsets: dict[str, int]  # "topic/partition" -> next offset to read
    bytes: int


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _require_empty(path: Path, what: str) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{what} {path} is not empty")


def take_backup(store: StateStore, to: Path) -> BackupInfo:
    """Checkpoint ``store`` into the empty or new directory ``to`` and describe it there."""
    _require_empty(to, "backup directory")
    to.mkdir(parents=True, exist_ok=True)
    store.checkpoint(to / DB_DIR)
    copy = StateStore(StoreSettings(path=to / DB_DIR, graph_ids=store.settings.graph_ids))
    try:
        info = BackupInfo(
            layout_version=copy.layout_version(), model_version=copy.model_version(),
            created_ms=time.time_ns() // 1_000_000,
            offsets={f"{tp.topic}/{tp.partition}": offset
                     for tp, offset in all_offsets(copy).items()},
            bytes=0)
    finally:
        copy.close()
    info = info.model_copy(update={"bytes": _size(to / DB_DIR)})
    _write_atomically(to / METADATA, info.model_dump_json(indent=1))
    return info


def backup_stopped(settings: StoreSettings, to: Path) -> BackupInfo:
    """Back up a state directory no process has open; ``StoreLockedError`` if one has."""
    if not (settings.path / _ROCKSDB_COMMIT_FILE).is_file():
        raise BackupError(f"no state store at {settings.path}")
    with StateStore(settings) as store:
        return take_backup(store, to)


def read_backup(backup: Path) -> BackupInfo:
    """The metadata of a complete backup; ``BackupError`` for anything else."""
    try:
        info = BackupInfo.model_validate_json((backup / METADATA).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{backup} is not a complete stream-align backup "
                          f"({METADATA} missing)") from exc
    except ValidationError as exc:
        raise BackupError(f"{backup}/{METADATA} is not stream-align backup metadata of format "
                          f"{FORMAT_VERSION}: {exc.errors()[0]['msg']}") from exc
    if not (backup / DB_DIR / _ROCKSDB_COMMIT_FILE).is_file():
        raise BackupError(f"{backup}/{DB_DIR} holds no RocksDB checkpoint")
    return info


def _refuse_open(settings: StoreSettings) -> None:
    """Raise if a process has the state open (a damaged store may be overwritten)."""
    try:
        StateStore(settings).close()
    except StoreLockedError as exc:
        raise BackupError(f"{settings.path} is open by a running service; stop it before "
                          "restoring") from exc
    except StoreError:
        pass


def restore_backup(backup: Path, settings: StoreSettings, *, force: bool = False,
                   model_version: str | None = None) -> BackupInfo:
    """Copy a backup into the state directory ``settings.path`` and verify it opens.

    Refuses a store layout this code cannot read, a backup made with another model than
    ``model_version`` (unless ``force``: the service would re-embed with the new model) and a
    non-empty state directory (unless ``force``, and never while a process has it open).
    """
    info = read_backup(backup)
    if info.layout_version != LAYOUT_VERSION:
        raise BackupError(f"backup store layout {info.layout_version} != supported "
                          f"{LAYOUT_VERSION}")
    if model_version and info.model_version not in (None, model_version) and not force:
        raise BackupError(f"backup was made with model {info.model_version}, the configured "
                          f"model is {model_version} (--force restores anyway; the service "
                          "then re-embeds every entity with the configured model)")
    state = settings.path
    if not force:
        _require_empty(state, "state directory")
    elif (state / _ROCKSDB_COMMIT_FILE).is_file():
        _refuse_open(settings)
    if state.exists():
        for entry in state.iterdir():  # the directory itself may be a mount point
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    state.mkdir(parents=True, exist_ok=True)
    source = backup / DB_DIR
    files = sorted(source.iterdir(), key=lambda f: f.name == _ROCKSDB_COMMIT_FILE)
    for file in files:  # CURRENT last: until it is there, the copy is not a database
        shutil.copy2(file, state / file.name)
    StateStore(settings).close()
    return info

