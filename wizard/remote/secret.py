"""Where the agentmemory secret comes from (docs/DELIVERY.md section 1): a token file given on
the command line, else ``AGENTMEMORY_SECRET``, else ``~/.agentmemory/.env``, else
``~/.agentmemory/secret``; else none (a 0.9.29 server without a secret takes no auth).

The secret is held in memory only: never printed, logged, stored or saved in the settings.
``Secret.__repr__`` hides it, so it cannot leak through a traceback or a log line either.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENV = "AGENTMEMORY_SECRET"


@dataclass(frozen=True)
class Secret:
    """A secret and where it was found (``where`` is safe to show; the value is not)."""

    value: str | None = field(repr=False)
    where: str

    def __repr__(self) -> str:
        return f"Secret(where={self.where!r})"

    def __bool__(self) -> bool:
        return bool(self.value)


class BadSecret(ValueError):
    """A secret that cannot travel in an HTTP header (a line break, a control character, a
    character outside Latin-1). The message never holds the secret."""


def checked(value: str | None, where: str) -> str | None:
    """``value`` when it can be sent as a bearer token; raises BadSecret otherwise."""
    if value is None:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F or ord(c) > 0xFF for c in value):
        raise BadSecret(
            f"the secret from {where} holds a line break, a control character or a character "
            "an HTTP header cannot carry"
        )
    return value


MAX_SECRET_FILE = 64 * 1024  # a token or an .env file; more is not one
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_text(path: Path) -> str:
    """A small text file's content, read without blocking or reading forever: a named pipe,
    a device (``/dev/zero``) or a socket is refused before a byte is read (opened without
    waiting for a writer, then its type taken from the open file), and at most
    MAX_SECRET_FILE bytes are read. Raises OSError saying why (``strerror``); text that is
    not UTF-8 raises BadSecret (never quoting it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((k for test, k in _KINDS if test(mode)), "a special file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file")
        data = f.read(MAX_SECRET_FILE + 1)
    if len(data) > MAX_SECRET_FILE:
        raise OSError(errno.EFBIG, f"it is larger than {MAX_SECRET_FILE // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSecret(f"the secret file {path} is not UTF-8 text") from None


def _read(path: Path) -> str | None:
    try:
        text = _read_text(path).strip()
    except (OSError, BadSecret):
        return None
    return text or None


def _from_env_file(path: Path) -> str | None:
    """``AGENTMEMORY_SECRET=...`` in a ``KEY=value`` file (quotes and ``export`` allowed)."""
    text = _read(path)
    if text is None:
        return None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export ") :].strip()
        key, sep, value = line.partition("=")
        if sep and key.strip() == ENV:
            value = value.strip()
            if value[:1] in "'\"" and value[:1] and value.count(value[0]) >= 2:
                value = value[1 : value.index(value[0], 1)]  # quoted: up to the closing quote
            else:  # an inline comment is not the secret; nor is a stray quote
                value = re.split(r"\s#", value, maxsplit=1)[0].strip().strip("'\"")
            return value or None
    return None


def find_secret(
    token_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Secret:
    """The secret to send, in the order of docs/DELIVERY.md section 1. A ``token_file`` that
    cannot be read raises OSError (the user named it: say so rather than going on without),
    also when it is not a regular file (a pipe, ``/dev/zero``: refused before it is read) or
    larger than MAX_SECRET_FILE; one that is not UTF-8 raises BadSecret."""
    if token_file is not None:
        path = Path(token_file).expanduser()
        given = _read_text(path).strip()
        where = f"the file {path}"
        return Secret(checked(given or None, where), where)
    env = os.environ if environ is None else environ
    if env.get(ENV, "").strip():  # (surrounding whitespace, a trailing newline, is not in it)
        where = f"the environment variable {ENV}"
        return Secret(checked(env[ENV].strip(), where), where)
    base = (home if home is not None else Path.home()) / ".agentmemory"
    for path, value in (
        (base / ".env", _from_env_file(base / ".env")),
        (base / "secret", _read(base / "secret")),
    ):
        if value:
            return Secret(checked(value, str(path)), str(path))
    return Secret(None, "nowhere (no secret found: requests go without auth)")
