"""Secrets never reach the store: credential values in converted sources become "[redacted]".

A value is a secret when its key names a credential (api key, token, secret, password,
authorization, credential, private key) or when it sits in a container of secrets (Letta's
``secrets`` and ``tool_exec_environment_variables``, environment variables, MCP servers'
headers). Only string values are replaced (a count or a flag under such a key is no secret);
the structure stays, so a reader sees that there was a value and where. Key/value lists
(``[{"key": "OPENAI_API_KEY", "value": "sk-…"}]``) keep their keys and lose their values.

This is the one intended loss of a migration (docs/FORMATS.md section 6); it applies to every
converted source, never to agentmemory's own files, whose round trip stays lossless.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[redacted]"

# A key names a credential when one of its words is one of these (words: split at _, -, ., space
# and lower-to-upper case changes), or when its words run together as one of the compounds.
_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "authorization",
        "credential",
        "credentials",
        "apikey",
        "cookie",
    }
)
_COMPOUNDS = (("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"))
# Containers whose every string value is a secret, whatever the keys inside are called.
_CONTAINERS = frozenset(
    {
        "secrets",
        "tool_exec_environment_variables",
        "environment_variables",
        "env_vars",
        "env",
        "custom_headers",
        "headers",
    }
)
_VALUE_KEYS = ("value", "val", "secret")
_NAME_KEYS = ("key", "name")
_SPLIT = re.compile(r"[_\-.\s]+|(?<=[a-z0-9])(?=[A-Z])")


def key_words(key: str) -> list[str]:
    """``"OPENAI_API_KEY"`` → ``["openai", "api", "key"]``; ``"apiKey"`` → ``["api", "key"]``."""
    return [w.lower() for w in _SPLIT.split(key) if w]


def is_credential_key(key: str) -> bool:
    """Whether a key names a credential (``api_key``, ``Authorization``, ``db_password``...)."""
    words = key_words(key)
    if _WORDS.intersection(words):
        return True
    return any(words[i : i + len(c)] == list(c) for c in _COMPOUNDS for i in range(len(words) - 1))


@dataclass
class Redaction:
    """What was replaced: the JSON paths, and the names of the secrets (never their values)."""

    paths: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.paths)


def redact(value: Any, path: str = "") -> tuple[Any, Redaction]:
    """A copy of ``value`` with every secret string replaced (``value`` itself is unchanged;
    parts without secrets are shared, not copied)."""
    found = Redaction()
    return _walk(value, path, False, found), found


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, path: str, secret: bool, found: Redaction) -> Any:
    if isinstance(value, str):
        if secret and value and value != REDACTED:
            found.paths.append(path)
            return REDACTED
        return value
    if isinstance(value, dict):
        pair_name = _pair_name(value) if secret else None
        out: dict | None = None
        for key, item in value.items():
            key_text = str(key)
            if pair_name is not None:  # a {key, value} entry of a secrets list: keep the key
                inner = key_text in _VALUE_KEYS
            else:
                inner = (
                    secret
                    or is_credential_key(key_text)
                    or (key_text.lower() in _CONTAINERS and isinstance(item, (dict, list)))
                )
            before = len(found.paths)
            new = _walk(item, _join(path, key_text), inner, found)
            if len(found.paths) > before and isinstance(item, str):
                found.names.append(pair_name or key_text)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, list):
        changed: list | None = None
        for i, item in enumerate(value):
            new = _walk(item, f"{path}[{i}]", secret, found)
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[i] = new
        return value if changed is None else changed
    return value


def _pair_name(entry: dict) -> str | None:
    """The name of a ``{"key": NAME, "value": SECRET}`` entry, when it is one."""
    if not any(k in entry for k in _VALUE_KEYS):
        return None
    for k in _NAME_KEYS:
        name = entry.get(k)
        if isinstance(name, str) and name:
            return name
    return None
