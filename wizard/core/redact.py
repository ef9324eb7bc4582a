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
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
        "bearer",
        "pwd",
        "pass",
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


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def is_credential_key(key: str) -> bool:
    """Whether a key names a credential (``api_key``, ``api_keys``, ``Authorization``,
    ``db_password``, ``tokens``...)."""
    words = [_singular(w) for w in key_words(key)]
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


def _url_without_secrets(text: str) -> str | None:
    """A URL with its password and credential-named query values replaced (None: nothing to
    replace, or not a URL)."""
    if "://" not in text or len(text) > 4096:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    netloc = parts.netloc
    changed = False
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, sep, password = userinfo.partition(":")
        if sep and password:
            netloc = f"{user}:{REDACTED}@{host}"
            changed = True
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(is_credential_key(k) and v for k, v in query):
        query = [(k, REDACTED if is_credential_key(k) and v else v) for k, v in query]
        changed = True
    if not changed:
        return None
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


def _is_flag_value(arg: object) -> bool:
    return isinstance(arg, str) and bool(arg) and not arg.startswith("-")


def _flag_values(items: list, path: str, found: Redaction) -> list | None:
    """An argument list with the value after a credential-named flag (``--api-key X``) or in
    ``--token=X`` replaced (None: nothing to replace)."""
    out: list | None = None
    for i, arg in enumerate(items):
        if not isinstance(arg, str) or not arg.startswith("-"):
            continue
        name, eq, value = arg.lstrip("-").partition("=")
        if not is_credential_key(name):
            continue
        if eq and value:
            out = out if out is not None else list(items)
            out[i] = f"{arg.split('=', 1)[0]}={REDACTED}"
            found.paths.append(f"{path}[{i}]")
            found.names.append(name)
        elif i + 1 < len(items) and _is_flag_value(items[i + 1]):
            out = out if out is not None else list(items)
            out[i + 1] = REDACTED
            found.paths.append(f"{path}[{i + 1}]")
            found.names.append(name)
    return out


def _walk(value: Any, path: str, secret: bool, found: Redaction) -> Any:
    if isinstance(value, str):
        if secret and value and value != REDACTED:
            found.paths.append(path)
            return REDACTED
        cleaned = _url_without_secrets(value)
        if cleaned is not None:
            found.paths.append(path)
            found.names.append("a password or token in a URL")
            return cleaned
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
        changed: list | None = None if secret else _flag_values(value, path, found)
        for i, item in enumerate(changed if changed is not None else value):
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
