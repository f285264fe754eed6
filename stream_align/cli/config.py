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

from pydantic import BaseModel, Field, ValidationError
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


class AppSettings(BaseSettings):
    """All settings of a stream-align process."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      frozen=True, extra="forbid")

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

