"""configure_logging: parseable JSON lines with the fields, stdlib routed through, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import pytest
import structlog
from pydantic import SecretStr

from stream_align.service.observability import configure_logging
from stream_align.service.observability.logging import MASK


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """A stream the logs go to; the global logging setup is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield io.StringIO()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_json_lines_carry_the_fields(out: io.StringIO) -> None:
    configure_logging("INFO", "json", out)
    structlog.get_logger("stream_align.service.loop").info("batch done", events=500, lag=3)
    (record,) = lines(out)
    assert {key: record[key] for key in ("level", "logger", "event", "events", "lag")} == {
        "level": "info", "logger": "stream_align.service.loop", "event": "batch done",
        "events": 500, "lag": 3}
    assert datetime.fromisoformat(str(record["timestamp"])).utcoffset() is not None


def test_stdlib_logging_is_routed_and_filtered_by_level(out: io.StringIO) -> None:
    configure_logging("WARNING", "json", out)
    library = logging.getLogger("confluent_kafka.fake")
    library.info("not shown")
    library.warning("broker %s down", "b1", extra={"attempt": 2})
    structlog.get_logger("ours").debug("not shown either")
    (record,) = lines(out)
    assert record["event"] == "broker b1 down"
    assert record["logger"] == "confluent_kafka.fake"
    assert (record["level"], record["attempt"]) == ("warning", 2)


def test_exceptions_are_rendered_as_text(out: io.StringIO) -> None:
    configure_logging("INFO", "json", out)
    try:
        raise ValueError("bad offset")
    except ValueError:
        structlog.get_logger("x").exception("commit failed")
    (record,) = lines(out)
    assert "ValueError: bad offset" in str(record["exception"])


def test_secrets_are_masked(out: io.StringIO) -> None:
    configure_logging("INFO", "json", out)
    structlog.get_logger("x").info(
        "connecting", sasl_password=SecretStr("hunter2"), api_token="abc",
        config={"bootstrap.servers": "b:9092", "sasl.password": "hunter2"},
        registry_key=SecretStr("s3cr3t"), n_tokens=7,
        registry={"basic.auth.user.info": "u:hunter2"},
    )
    logging.getLogger("lib").info("client", extra={"password": "hunter2"})
    assert "hunter2" not in out.getvalue() and "abc" not in out.getvalue()
    first, second = lines(out)
    assert first["sasl_password"] == first["api_token"] == first["registry_key"] == MASK
    assert first["config"] == {"bootstrap.servers": "b:9092", "sasl.password": MASK}
    assert first["registry"] == {"basic.auth.user.info": MASK}
    assert first["n_tokens"] == 7
    assert second["password"] == MASK


def test_console_format_and_reconfiguring_replace_the_handler(out: io.StringIO) -> None:
    configure_logging("INFO", "json", io.StringIO())
    configure_logging("INFO", "console", out)
    structlog.get_logger("x").info("hello", n=1)
    text = out.getvalue()
    assert "hello" in text and "n=1" in text and not text.startswith("{")
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_StructlogHandler"]
    assert len(ours) == 1
