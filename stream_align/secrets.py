"""Recognising and masking secrets wherever settings or log fields are printed.

One rule set for ``config --show``, the structured logs and the settings' validators, so what is
hidden in one place is hidden in all: ``SecretStr`` values; values under secret-looking keys
(``sasl.password``, ``api_token``, ``basic.auth.user.info``, also nested, as in a client
config); and inside any string, the user info of a URL (``https://user:pw@host``) and the value
of secret-looking query parameters (``?access_token=...``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import SecretBytes, SecretStr

MASK = "**********"
# Whole words of a key (``sasl.password``, ``api_token``, ``basic.auth.user.info``), so that
# ``n_tokens`` or ``tokenizer`` stay readable.
_SECRET_WORDS = r"password|passwd|pwd|secret|token|credentials?|api[._-]?key|user[._-]info"
SECRET_KEY = re.compile(rf"(^|[._-])({_SECRET_WORDS})($|[._-])", re.IGNORECASE)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/@\s?#]+)@",
                           re.IGNORECASE)
_QUERY_SECRET = re.compile(
    rf"(?P<key>[?&;](?:[\w.-]*[._-])?(?:{_SECRET_WORDS}|key|sig|signature|auth|access[._-]?key)"
    rf"(?:[._-][\w.-]*)?=)(?P<value>[^&#\s\"']*)", re.IGNORECASE)


def is_secret_key(key: object) -> bool:
    """Whether a value under ``key`` must never be printed."""
    return isinstance(key, str) and bool(SECRET_KEY.search(key))


def mask_text(text: str) -> str:
    """``text`` with URL user info and secret-looking query values masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)


def url_has_userinfo(url: str) -> bool:
    """Whether ``url`` carries credentials before its host (``scheme://user:pw@host``)."""
    return bool(_URL_USERINFO.match(url.strip()))


def mask_secrets(value: Any, key: object = None) -> Any:
    """A copy of ``value`` (nested dicts, lists, strings) with every secret masked."""
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if is_secret_key(key):
        return MASK if value is not None else None
    if isinstance(value, Mapping):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_secrets(v) for v in value)
    if isinstance(value, str):
        return mask_text(value)
    return value
