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

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from wizard.core.spool import RecordList

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
    }
)
_COMPOUNDS = (("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key"))
# Plurals name credentials only as the whole key (``tokens``, ``api_keys``) or after a word that
# says so (``access_tokens``): ``max_tokens`` and ``num_tokens`` are counts, not secrets.
_PLURALS = frozenset({"tokens", "passwords", "cookies", "keys", "apikeys"})
_PLURAL_QUALIFIERS = frozenset(
    {"api", "access", "auth", "refresh", "bearer", "private", "secret", "session", "id"}
)
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


@functools.lru_cache(maxsize=4096)  # records repeat the same few keys (a bound: any key)
def is_credential_key(key: str) -> bool:
    """Whether a key names a credential (``api_key``, ``api_keys``, ``Authorization``,
    ``db_password``, ``access_tokens``...; not ``max_tokens``)."""
    words = key_words(key)
    if _WORDS.intersection(words):
        return True
    if any(words[i : i + len(c)] == list(c) for c in _COMPOUNDS for i in range(len(words) - 1)):
        return True
    if words and words[-1] in _PLURALS:
        if len(words) == 1:
            return words[0] != "keys"  # (a bare "keys" is a list of names)
        return words[-2] in _PLURAL_QUALIFIERS
    return False


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


# Where the walk is: the path's text, or (parent, key or index) pairs made as it goes down
# and written out only for a secret found (most values have none).
_Where = str | tuple[Any, str | int]


def _text(where: _Where) -> str:
    steps: list[str | int] = []
    while isinstance(where, tuple):
        where, step = where
        steps.append(step)
    out = where
    for step in reversed(steps):
        out = f"{out}[{step}]" if isinstance(step, int) else f"{out}.{step}" if out else step
    return out


# A URL in a text: a scheme, then no space, quote or angle bracket.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s<>\"'`]+")
# Its user:password@ (the password replaced) and its query's name=value pairs.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^/?#@:]*):([^/?#@]+)@")
_QUERY_PAIR = re.compile(r"([?&;])([^=&#;?]+)=([^&#;]*)")
# A user name alone (no password) that is a token: git remotes put a token there
# (https://ghp_...@github.com). Known token prefixes, or 20+ characters of letters and digits.
_USER_ONLY = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@:]+)@")
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghs_", "ghu_", "github_pat_", "glpat-", "sk-", "xox")


def _token_like(user: str) -> bool:
    """Whether a URL's user name (without a password) looks like a token, not a name."""
    if user.startswith(_TOKEN_PREFIXES) and len(user) >= 8:
        return True
    return (
        len(user) >= 20
        and any(c.isdigit() for c in user)
        and any(c.isalpha() for c in user)
        and " " not in user
        and "." not in user
    )


def _url_without_secrets(url: str) -> str:
    """``url`` with its password and credential-named query values replaced in place; every
    other character is kept as it was."""
    url = _USERINFO.sub(lambda m: f"{m.group(1)}:{REDACTED}@", url)
    url = _USER_ONLY.sub(
        lambda m: f"{m.group(1)}{REDACTED}@" if _token_like(m.group(2)) else m.group(0), url
    )
    query_at = url.find("?")
    if query_at < 0:
        return url
    fragment_at = url.find("#", query_at)
    end = len(url) if fragment_at < 0 else fragment_at

    def pair(m: re.Match[str]) -> str:
        name = unquote_plus(m.group(2))
        if m.group(3) and m.group(3) != REDACTED and is_credential_key(name):
            return f"{m.group(1)}{m.group(2)}={REDACTED}"
        return m.group(0)

    return url[:query_at] + _QUERY_PAIR.sub(pair, url[query_at:end]) + url[end:]


def _text_without_secrets(text: str) -> str | None:
    """``text`` with the secrets of the URLs in it replaced (None: none found)."""
    if "://" not in text:
        return None
    cleaned = _URL.sub(lambda m: _url_without_secrets(m.group(0)), text)
    return None if cleaned == text else cleaned


# A command-line flag: dashes, a name without spaces, maybe =value.
_FLAG = re.compile(r"--?([A-Za-z][A-Za-z0-9_.\-]*)(=.*)?", re.DOTALL)
_NOT_A_SECRET_FLAG = frozenset({"file", "path", "env", "dir", "name", "length", "size", "count"})


def _secret_flag(arg: str) -> tuple[str, bool] | None:
    """(name, has =value) when ``arg`` is a flag whose value is a credential."""
    m = _FLAG.fullmatch(arg)
    if m is None:
        return None
    name = m.group(1)
    words = key_words(name)
    if not words or words[0] == "no" or words[-1] in _NOT_A_SECRET_FLAG:
        return None
    if m.group(2) == "=":  # "--token=" with nothing after it: no value, here or next
        return None
    return (name, m.group(2) is not None) if is_credential_key(name) else None


def _flag_values(items: list, path: _Where, found: Redaction) -> list | None:
    """An argument list with the value after a credential flag (``--api-key X``) or in
    ``--token=X`` replaced (None: nothing to replace). Only flags of the form ``-name`` or
    ``--name[=value]`` count: list items that are sentences are left alone."""
    out: list | None = None
    for i, arg in enumerate(items):
        if not isinstance(arg, str) or arg[:1] != "-":
            continue
        flag = _secret_flag(arg)
        if flag is None:
            continue
        name, inline = flag
        target: int | None = None
        if inline:
            value = f"{arg.split('=', 1)[0]}={REDACTED}"
            target = i
        elif i + 1 < len(items) and isinstance(items[i + 1], str):
            nxt = items[i + 1]
            if nxt and not nxt.startswith("-") and nxt != REDACTED:
                value, target = REDACTED, i + 1
        if target is None or (inline and arg.endswith(f"={REDACTED}")):
            continue
        out = out if out is not None else list(items)
        out[target] = value
        found.paths.append(_text((path, target)))
        found.names.append(name)
    return out


_PLAIN = (int, float, bool)  # values that are never secrets


def _walk(value: Any, path: _Where, secret: bool, found: Redaction) -> Any:
    if isinstance(value, str):
        if secret and value and value != REDACTED:
            found.paths.append(_text(path))
            return REDACTED
        cleaned = _text_without_secrets(value)
        if cleaned is not None:
            found.paths.append(_text(path))
            found.names.append("a password or token in a URL")
            return cleaned
        return value
    if isinstance(value, dict):
        pair_name = _pair_name(value) if secret else None
        out: dict | None = None
        for key, item in value.items():
            if item is None or item.__class__ in _PLAIN:
                continue  # (nothing to replace: most values of a record)
            key_text = str(key)
            if pair_name is not None:  # a {key, value} entry of a secrets list: keep the key
                inner = key_text in _VALUE_KEYS
            else:
                inner = (
                    secret
                    or is_credential_key(key_text)
                    or (key_text.lower() in _CONTAINERS and isinstance(item, (dict, list)))
                )
            if not inner and item.__class__ is str and "://" not in item:
                continue
            before = len(found.paths)
            new = _walk(item, (path, key_text), inner, found)
            if len(found.paths) > before and isinstance(item, str) and inner:
                found.names.append(pair_name or key_text)  # (a URL's secret named itself)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if isinstance(value, RecordList):  # a spooled record array: a chunk at a time
        before = len(found.paths)
        out_records = value.rewritten(lambda i, item: _walk(item, (path, i), secret, found))
        return value if len(found.paths) == before else out_records
    if isinstance(value, list):
        changed: list | None = None if secret else _flag_values(value, path, found)
        for i, item in enumerate(changed if changed is not None else value):
            new = _walk(item, (path, i), secret, found)
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
