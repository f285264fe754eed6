"""ObservabilitySettings: typed, documented, frozen; set through AppSettings like every stage."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream_align.cli.config import AppSettings
from stream_align.service.observability import ObservabilitySettings


def test_defaults_are_safe_for_a_laptop() -> None:
    settings = ObservabilitySettings()
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.tracing_exporter == "none"
    assert all(field.description for field in ObservabilitySettings.model_fields.values())


def test_invalid_values_are_rejected_and_the_model_is_frozen() -> None:
    with pytest.raises(ValidationError):
        ObservabilitySettings(tracing_exporter="jaeger")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        ObservabilitySettings(http_port=70000)
    with pytest.raises(ValidationError):
        ObservabilitySettings().http_port = 1  # type: ignore[misc]


def test_environment_reaches_it_through_app_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAM_ALIGN_OBSERVABILITY__LOG_LEVEL", "debug")
    monkeypatch.setenv("STREAM_ALIGN_OBSERVABILITY__HTTP_PORT", "0")
    settings = AppSettings().observability
    assert (settings.log_level, settings.http_port) == ("DEBUG", 0)
