"""The infrastructure failures an operator meets first, from a real process: one line on stderr
and the exit code of stream_align/cli/exit_codes (the config and model cases are unit tests)."""

import socket
from pathlib import Path

import pytest

from stream_align.cli.exit_codes import ExitCode
from tests.integration.synthetic_dataset import write_synthetic_dataset
from tests.unit.cli.cli_subprocess import assert_one_line_error, run_cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.integration
def test_an_unreachable_broker() -> None:
    """Nothing listens there: after the metadata wait (30 s) it says where it went and why."""
    address = f"127.0.0.1:{_closed_port()}"
    result = run_cli("topics", env={"STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS": address})
    assert_one_line_error(result, ExitCode.KAFKA, f"cannot use Kafka at {address}", "refused")


@pytest.mark.integration
def test_an_unreachable_schema_registry(kafka_config_file: Path, tmp_path: Path) -> None:
    """The broker is up, the registry is not: the first Avro encode fails as the registry."""
    dataset = write_synthetic_dataset(tmp_path / "data", n=20)
    registry = f"http://127.0.0.1:{_closed_port()}"
    result = run_cli("replay", "--dataset", str(dataset), "--no-progress", "--config",
                     str(kafka_config_file),
                     env={"STREAM_ALIGN_CODEC__ENCODING": "avro",
                          "STREAM_ALIGN_CODEC__SCHEMA_REGISTRY_URL": registry})
    assert_one_line_error(result, ExitCode.REGISTRY, "registry")
