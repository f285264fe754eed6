"""State backup and restore on a real RocksDB: consistent copies, refusals, the live handoff."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from stream_align.cli import main
from stream_align.cli.exit_codes import ExitCode
from stream_align.service.backup_agent import BackupAgent
from stream_align.store import StateStore, StoreSettings
from stream_align.store.backup import backup_stopped, read_backup, restore_backup, take_backup
from stream_align.store.backup_requests import request_backup
from stream_align.store.errors import BackupError, StoreLockedError
from stream_align.store.recovery import all_offsets, state_digest


def _fill(store: StateStore, start: int, count: int) -> None:
    """One batch: triples and the offset that produced them, as the service commits them."""
    with store.transaction() as tx:
        for i in range(start, start + count):
            tx.graph.add_triple("A", f"a{i}", "r", f"a{i + 1}")
        tx.delivery.set_offset("kg.triples", 0, start + count)


@pytest.fixture
def stopped(settings: StoreSettings) -> StoreSettings:
    with StateStore(settings) as store:
        _fill(store, 0, 50)
        store.set_model_version("model-1")
    return settings


def test_backup_of_a_stopped_store_restores_the_same_state(stopped: StoreSettings,
                                                          tmp_path: Path):
    info = backup_stopped(stopped, tmp_path / "backup")
    assert (info.model_version, info.offsets, info.layout_version) == ("model-1",
                                                                        {"kg.triples/0": 50}, 1)
    assert read_backup(tmp_path / "backup") == info and info.bytes > 0
    target = stopped.model_copy(update={"path": tmp_path / "restored"})
    assert restore_backup(tmp_path / "backup", target, model_version="model-1") == info
    with StateStore(stopped) as original, StateStore(target) as restored:
        assert state_digest(restored) == state_digest(original)


def test_refusals(stopped: StoreSettings, tmp_path: Path):
    backup = tmp_path / "backup"
    backup_stopped(stopped, backup)
    with pytest.raises(BackupError, match="not empty"):
        backup_stopped(stopped, backup)
    with pytest.raises(BackupError, match="no state store"):
        backup_stopped(stopped.model_copy(update={"path": tmp_path / "nothing"}), tmp_path / "b2")
    with pytest.raises(BackupError, match=r"state directory .* is not empty"):
        restore_backup(backup, stopped)
    with pytest.raises(BackupError, match="made with model model-1, the configured model is m2"):
        restore_backup(backup, stopped.model_copy(update={"path": tmp_path / "new"}),
                       model_version="m2")
    with StateStore(stopped), pytest.raises(BackupError, match="open by a running service"):
        restore_backup(backup, stopped, force=True)
    with pytest.raises(BackupError, match="not a complete stream-align backup"):
        restore_backup(tmp_path / "nothing", stopped)
    metadata = json.loads((backup / "backup.json").read_text())
    (backup / "backup.json").write_text(json.dumps({**metadata, "layout_version": 99}))
    with pytest.raises(BackupError, match="layout 99 != supported 1"):
        restore_backup(backup, stopped, force=True)


def test_force_replaces_a_newer_state(stopped: StoreSettings, tmp_path: Path):
    backup_stopped(stopped, tmp_path / "backup")
    with StateStore(stopped) as store:
        _fill(store, 50, 25)
    restore_backup(tmp_path / "backup", stopped, force=True, model_version="model-2")
    with StateStore(stopped) as store:
        assert all_offsets(store) == {("kg.triples", 0): 50}


def test_a_store_in_use_is_backed_up_by_its_holder_while_it_writes(settings: StoreSettings,
                                                                   tmp_path: Path):
    """The running service's path: the CLI finds the lock taken and hands the request over."""
    with StateStore(settings) as store, BackupAgent(store, interval_s=0.05):
        _fill(store, 0, 10)
        with pytest.raises(StoreLockedError):
            backup_stopped(settings, tmp_path / "direct")
        stop = threading.Event()

        def write() -> None:
            start = 10
            while not stop.wait(0.002):
                _fill(store, start, 20)
                start += 20

        writer = threading.Thread(target=write)
        writer.start()
        try:
            assert main(["state", "backup", "--state", str(settings.path),
                         "--to", str(tmp_path / "live"), "--timeout", "60"]) == 0
        finally:
            stop.set()
            writer.join()
    # Every table at the same commit: the offset says exactly how many triples there are.
    info = read_backup(tmp_path / "live")
    with StateStore(StoreSettings(path=tmp_path / "live" / "db")) as copy:
        with copy.transaction() as tx:
            triples = sum(1 for _ in tx.graph.triples("A"))
        assert triples == info.offsets["kg.triples/0"] == all_offsets(copy)[("kg.triples", 0)]


def test_a_request_nobody_answers_times_out(settings: StoreSettings, tmp_path: Path):
    with StateStore(settings), pytest.raises(BackupError, match="no running service answered"):
        request_backup(settings.path, tmp_path / "b", timeout=0.3, poll_s=0.05)
    assert not list((settings.path / "backup-requests").iterdir())


def test_restore_command_checks_the_model(stopped: StoreSettings, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]):
    with StateStore(stopped) as store:
        take_backup(store, tmp_path / "backup")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"version": "model-2"}))
    args = ["state", "restore", "--from", str(tmp_path / "backup"),
            "--state", str(tmp_path / "new"), "--model", str(model)]
    assert main(args) == ExitCode.STORE
    assert "configured model is model-2" in capsys.readouterr().err
    (model / "config.json").write_text(json.dumps({"version": "model-1"}))
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model_checked"] and report["offsets"] == {"kg.triples/0": 50}
