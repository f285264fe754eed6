"""Ask the running service for a backup through its state directory.

Only the process holding the RocksDB lock can take a consistent checkpoint (decision 0023), so
while the service runs, ``stream-align state backup`` drops a request file into
``<state>/backup-requests/`` and waits for the answer the service writes next to it. The state
directory is the channel because whoever may back the state up can already reach it (``kubectl
exec`` into the pod, a sidecar sharing the volume): no port, no credentials, nothing that an
HTTP client on the probe port could trigger. RocksDB ignores files it did not write.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from stream_align.errors import StreamAlignError
from stream_align.store.backup import BackupInfo, take_backup
from stream_align.store.errors import BackupError
from stream_align.store.state_store import StateStore

REQUESTS_DIR = "backup-requests"
_REQUEST, _RESULT = ".request", ".result"


def _write(path: Path, body: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")  # not matched by the server's glob until renamed
    tmp.write_text(json.dumps(body), encoding="utf-8")
    tmp.replace(path)


def request_backup(state: Path, to: Path, timeout: float, poll_s: float = 0.25) -> BackupInfo:
    """Have the service that holds ``state`` open back it up into ``to``; wait for it."""
    requests = state / REQUESTS_DIR
    requests.mkdir(exist_ok=True)
    name = uuid.uuid4().hex
    request, result = requests / (name + _REQUEST), requests / (name + _RESULT)
    _write(request, {"to": str(to.resolve())})
    deadline = time.monotonic() + timeout
    while not result.exists():
        if time.monotonic() > deadline:
            request.unlink(missing_ok=True)
            raise BackupError(f"{state} is locked but no running service answered the backup "
                              f"request within {timeout:.0f}s (is it a stream-align service of "
                              "this version, and not stuck?)")
        time.sleep(poll_s)
    answer = json.loads(result.read_text(encoding="utf-8"))
    result.unlink()
    if not answer["ok"]:
        raise BackupError(f"the running service could not take the backup: {answer['error']}")
    return BackupInfo.model_validate(answer["info"])


def serve_backup_requests(store: StateStore) -> list[BackupInfo]:
    """Take every pending backup of ``store`` and answer it; return the backups taken."""
    requests = store.settings.path / REQUESTS_DIR
    taken: list[BackupInfo] = []
    for request in sorted(requests.glob("*" + _REQUEST)) if requests.is_dir() else ():
        try:
            info = take_backup(store, Path(json.loads(request.read_text("utf-8"))["to"]))
            answer: dict[str, object] = {"ok": True, "info": info.model_dump()}
            taken.append(info)
        except (StreamAlignError, OSError, ValueError, KeyError) as exc:
            answer = {"ok": False, "error": str(exc)}
        _write(request.with_suffix(_RESULT), answer)
        request.unlink(missing_ok=True)
    return taken
