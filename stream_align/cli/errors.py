"""Errors of the command line itself: a configuration that cannot be used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stream_align.errors import StreamAlignError

if TYPE_CHECKING:
    from pydantic import ValidationError


class ConfigError(StreamAlignError):
    """The config file is missing or not TOML, or a setting has an invalid value."""


def validation_summary(exc: ValidationError, env_prefix: str | None = None) -> str:
    """One line naming each invalid setting (with its environment variable when the settings
    come from the environment) and what is wrong with it."""
    from stream_align.secrets import mask_secrets  # a refused value may hold credentials

    problems = []
    for error in exc.errors():
        dotted = ".".join(str(part) for part in error["loc"])
        given = "" if isinstance(error["input"], dict) else \
            f" = {mask_secrets(error['input'], error['loc'][-1] if error['loc'] else None)!r}"
        env = "" if env_prefix is None else (
            " (" + env_prefix + "__".join(str(part).upper() for part in error["loc"]) + ")")
        problems.append(f"{dotted}{given}{env}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)
