"""Settings for every stage, from a TOML file and ``STREAM_ALIGN_*`` environment variables.

The only place that reads the environment. Precedence: environment > config file > defaults.
Every stage's settings is a frozen pydantic model; here they are nested under one
``pydantic-settings`` class, so ``[kafka] bootstrap_servers = "..."`` in the file and
``STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS`` in the environment set the same field.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from stream_align.cli.errors import ConfigError, validation_summary
from stream_align.cli.options import CONFIG_ENV, ENV_PREFIX
from stream_align.engine.settings import EngineSettings
from stream_align.events.codec import CodecSettings
from stream_align.service.observability.settings import ObservabilitySettings
from stream_align.service.settings import KafkaSettings, RunnerSettings
from stream_align.store.settings import StoreSettings

JSON_ESCAPE = 6
"""Most bytes one input byte can take in a JSON string (a control character is ``\\u0001``)."""
EVENT_OVERHEAD = 4096
"""Generous bound on an alignment event's bytes besides its keys (names, numbers, framing)."""


class AppSettings(BaseSettings):
    """All settings of a stream-align process."""

    # hide_input_in_errors: a refused value may be a secret (a URL with credentials)
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      frozen=True, extra="forbid", hide_input_in_errors=True)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings, description="Kafka cluster.")
    codec: CodecSettings = Field(default_factory=CodecSettings, description="Wire format.")
    observability: ObservabilitySettings = Field(
        default_factory=ObservabilitySettings, description="Probes, metrics, logs, tracing."
    )
    store: StoreSettings = Field(
        default_factory=lambda: StoreSettings(path=Path("stream-align-state")),
        description="RocksDB state store.",
    )
    runner: RunnerSettings = Field(default_factory=RunnerSettings, description="Service loop.")
    engine: EngineSettings = Field(
        default_factory=EngineSettings, description="Incremental alignment engine."
    )

    @model_validator(mode="after")
    def _keys_fit_alignment_events(self) -> AppSettings:
        """An alignment event copies up to ``3 + 4 × evidence_size + max_cause_ids`` keys and
        event ids (left, right, model version; two neighbours and two relations per evidence
        entry; causes): at the key limit it must still fit ``codec.max_bytes``, or a legal
        input could make an event the service cannot publish."""
        keys = 3 + 4 * self.engine.evidence_size + self.engine.max_cause_ids
        worst = keys * self.codec.limits.max_key_bytes * JSON_ESCAPE + EVENT_OVERHEAD
        if worst > self.codec.max_bytes:
            raise ValueError(
                f"codec.limits.max_key_bytes {self.codec.limits.max_key_bytes} lets an alignment "
                f"event reach {worst} bytes > codec.max_bytes {self.codec.max_bytes}: lower the "
                "key limit, engine.evidence_size or engine.max_cause_ids, or raise max_bytes")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any,
                                   env_settings: Any, dotenv_settings: Any,
                                   file_secret_settings: Any
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load_settings(config: Path | None) -> AppSettings:
    """Settings from ``config`` (or ``$STREAM_ALIGN_CONFIG``) and the environment."""
    path = config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    cls = AppSettings
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        cls = type("ConfiguredSettings", (AppSettings,),
                   {"model_config": {**AppSettings.model_config, "toml_file": path}})
    try:
        return cls()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(validation_summary(exc, ENV_PREFIX)) from exc


def describe(model: type[BaseModel] = AppSettings, prefix: str = ENV_PREFIX
             ) -> Iterator[tuple[str, str, str, str]]:
    """(environment variable, type, default, description) for every leaf setting."""
    for name, info in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from describe(annotation, f"{env}__")
            continue
        default = info.get_default(call_default_factory=True)
        type_name = getattr(annotation, "__name__", str(annotation)).replace("typing.", "")
        yield env, type_name, repr(default), info.description or ""

