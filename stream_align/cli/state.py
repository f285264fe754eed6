"""``stream-align state backup|restore``: a way back after losing the state volume.

``backup`` takes a RocksDB checkpoint — itself when no process has the state open, otherwise by
asking the running service (only the lock holder can copy every table at the same commit;
decision 0023). ``restore`` copies a backup into an empty state directory after checking its
store layout and model; the service then resumes from the backup's offsets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stream_align.cli.options import add_config_argument

if TYPE_CHECKING:
    from stream_align.cli.config import AppSettings
    from stream_align.store.settings import StoreSettings

_MODEL_CONFIG = "config.json"  # the artifact's declared version; `run` verifies its hash


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "state", help="back up or restore the RocksDB state (checkpoints)",
        description="Back up the state store to a directory, or restore it from one. Both "
        "print JSON: the backup's store layout, model version, size and the input offsets the "
        "service resumes from.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    backup = actions.add_parser(
        "backup", help="checkpoint the state into an empty directory (service may be running)",
        description="A consistent RocksDB checkpoint of the state (every table and the input "
        "offsets at the same commit) plus backup.json. Works while `stream-align run` has the "
        "state open: the service takes the checkpoint itself (within a second of the request). "
        "Hard links when BACKUP_DIR is on the state's file system — put it on another volume "
        "to survive losing this one.")
    backup.add_argument("--state", type=Path, default=None, metavar="DIR",
                        help="state directory (default: store.path)")
    backup.add_argument("--to", type=Path, required=True, metavar="BACKUP_DIR",
                        help="new or empty directory for the backup")
    backup.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS",
                        help="how long to wait for a running service to take it (default 600)")
    add_config_argument(backup)
    backup.set_defaults(func=run_backup)
    restore = actions.add_parser(
        "restore", help="restore a backup into an empty state directory (service stopped)",
        description="Copy a backup into the state directory, refusing a store layout this "
        "version cannot read, a backup made with another model than the configured one and a "
        "non-empty state directory (--force overrides the last two; a directory a running "
        "service holds is always refused). Start `stream-align run` afterwards: it resumes "
        "every input partition from the backup's offsets and re-reads what followed.")
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="BACKUP_DIR",
                         help="a directory written by `stream-align state backup`")
    restore.add_argument("--state", type=Path, default=None, metavar="DIR",
                         help="state directory (default: store.path)")
    restore.add_argument("--model", type=Path, default=None, metavar="DIR",
                         help="model the service will run (default: runner.model_path); its "
                         "version must match the backup's")
    restore.add_argument("--force", action="store_true",
                         help="replace a non-empty state directory; accept another model")
    add_config_argument(restore)
    restore.set_defaults(func=run_restore)


def _store_settings(args: argparse.Namespace) -> tuple[AppSettings, StoreSettings]:
    from stream_align.cli.config import load_settings

    settings = load_settings(args.config)
    store = settings.store
    if args.state is not None:
        store = store.model_copy(update={"path": args.state})
    return settings, store


def run_backup(args: argparse.Namespace) -> int:
    from stream_align.store.backup import backup_stopped
    from stream_align.store.backup_requests import request_backup
    from stream_align.store.errors import StoreLockedError

    _, store = _store_settings(args)
    try:
        info = backup_stopped(store, args.to)
    except StoreLockedError:
        print(f"{store.path} is open by a running service: asking it for the checkpoint",
              file=sys.stderr)
        info = request_backup(store.path, args.to, args.timeout)
    print(json.dumps({"backup": str(args.to), **info.model_dump()}, indent=1))
    return 0


def _declared_model_version(model: Path) -> str | None:
    """The version an artifact declares (None if there is no artifact there)."""
    try:
        version = json.loads((model / _MODEL_CONFIG).read_text(encoding="utf-8")).get("version")
    except (FileNotFoundError, json.JSONDecodeError, AttributeError):
        return None
    return version if isinstance(version, str) else None


def run_restore(args: argparse.Namespace) -> int:
    from stream_align.store.backup import restore_backup
    from stream_align.store.errors import BackupError

    settings, store = _store_settings(args)
    model = args.model or Path(settings.runner.model_path)
    version = _declared_model_version(model)
    if version is None and args.model is not None:
        raise BackupError(f"{model} is not a model artifact (no {_MODEL_CONFIG} with a version)")
    if version is None:
        print(f"no model artifact at {model}: model version not checked", file=sys.stderr)
    info = restore_backup(args.source, store, force=args.force, model_version=version)
    print(json.dumps({"restored": str(store.path), "model_checked": version is not None,
                      **info.model_dump()}, indent=1))
    return 0
