"""A small HTTP client for agentmemory's REST API (docs/DELIVERY.md sections 1-2, 8).

One persistent connection (HTTP/1.1 keep-alive), JSON in and out, ``Authorization: Bearer``
when there is a secret, never an ``Origin`` header. It reports what happened and decides
nothing: a transport failure raises :class:`Unreachable`, every HTTP answer is returned.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from wizard.remote.secret import Secret

DEFAULT_URL = "http://127.0.0.1:3111"
BASE_PATH = "/agentmemory"
# No answer of agentmemory's can pass its engine's 16 MiB frame (docs/DELIVERY.md section 3:
# bigger export pages are refused as oversized); twice that bounds what a hostile server costs.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
READ_CHUNK = 1024 * 1024
TIMEOUT_S = 190.0  # the server's own function timeout is 180 s: let it answer with its error


class Unreachable(Exception):
    """No HTTP answer: the connection was refused, reset, dropped, or timed out
    (``timed_out``: no answer within the client's timeout)."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class BadURL(ValueError):
    """The server address is not an http(s) URL."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: its status and its JSON body (None when the body is not JSON)."""

    status: int
    body: Any

    def field(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalized(url: str) -> str:
    """``host:port`` or a full URL → ``scheme://host:port`` without a trailing slash."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadURL(f"not an http(s) address: {url!r}")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number from 0 to 65535)
    except ValueError:
        raise BadURL(f"not a port number in {url!r}") from None
    host = parts.netloc.rpartition("@")[2]  # a user:password@ part is never used nor kept
    return f"{parts.scheme}://{host}".rstrip("/")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_answer(raw: bytes) -> Any:
    """An answer's JSON, or None when it is empty or not JSON (NaN and Infinity are not;
    nor is anything nested too deeply to read)."""
    if not raw:
        return None
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None


def _cut_off(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """The timeout passed: end the exchange (the blocked read returns, the request fails)."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Client:
    """Requests to one agentmemory server."""

    def __init__(self, url: str, secret: Secret, timeout: float | None = None) -> None:
        self.url = normalized(url)
        self._secret = secret
        self.timeout = TIMEOUT_S if timeout is None else timeout
        self._conn: http.client.HTTPConnection | None = None

    @property
    def insecure(self) -> bool:
        """Whether a secret would travel in clear text to another machine."""
        parts = urlsplit(self.url)
        return bool(self._secret) and parts.scheme == "http" and not is_loopback(self.url)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            parts = urlsplit(self.url)
            cls = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(parts.hostname or "", parts.port, timeout=self.timeout)
            self._conn.connect()
            sock = self._conn.sock
            if sock is not None:  # requests are small and answered at once: no Nagle delay
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        auth: bool = True,
    ) -> Answer:
        """One request; raises Unreachable when no HTTP answer came back."""
        target = BASE_PATH + path + (f"?{urlencode(params)}" if params else "")
        headers = {"Accept": "application/json", "Connection": "keep-alive"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if auth and self._secret.value:
            headers["Authorization"] = f"Bearer {self._secret.value}"
        expired = threading.Event()
        watchdog: threading.Timer | None = None
        try:
            conn = self._connection()
            # The timeout bounds the whole exchange, not each read: a server that drips its
            # head, or floods "100 Continue", would otherwise hold the client for ever.
            watchdog = threading.Timer(self.timeout, _cut_off, (conn, expired))
            watchdog.daemon = True
            watchdog.start()
            conn.request(method, target, body=body, headers=headers)
            response = conn.getresponse()
            raw = self._read_bounded(response)
            if expired.is_set():  # cut off: what came is not the whole answer
                raise TimeoutError(f"the answer took longer than {self.timeout:g} s")
        except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:
            # (http.client raises ValueError for some malformed heads, e.g. a bad status code)
            self.close()  # a broken connection is not reused
            if expired.is_set():
                raise Unreachable(
                    f"no whole answer within {self.timeout:g} s", timed_out=True
                ) from None
            said = str(exc)[:200]  # (a bad status line is quoted whole: keep it short)
            raise Unreachable(
                f"{type(exc).__name__}: {said}" if said else type(exc).__name__,
                timed_out=isinstance(exc, TimeoutError),
            ) from None
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if response.will_close:
            self.close()
        if 300 <= response.status < 400:
            # never followed: the secret goes to the address the user gave, nowhere else
            where = response.getheader("Location") or "another address"
            return Answer(
                response.status,
                {
                    "error": f"the server redirects to {where[:200]}; the wizard never follows a "
                    "redirect: give the address agentmemory really answers on"
                },
            )
        return Answer(response.status, parse_answer(raw))

    def _read_bounded(self, response: http.client.HTTPResponse) -> bytes:
        """The answer's body: at most MAX_ANSWER_BYTES, within the timeout in all (a server
        that sends a byte now and then cannot hold the client forever)."""
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read1(READ_CHUNK)
            if not chunk:
                if response.length:  # the connection ended before the Content-Length
                    raise http.client.IncompleteRead(b"", response.length)
                # read to its end: closing the answer (not the connection) lets the next
                # request go on the same keep-alive connection
                response.close()
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise http.client.HTTPException(
                    f"the answer is larger than {MAX_ANSWER_BYTES // (1024 * 1024)} MiB"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"the answer took longer than {self.timeout:.0f} s to arrive")
            chunks.append(chunk)

    # -- the endpoints ------------------------------------------------------------------------
    def livez(self) -> Answer:
        return self.request("GET", "/livez", auth=False)

    def health(self) -> Answer:
        return self.request("GET", "/health")

    def post_import(self, body: bytes) -> Answer:
        return self.request("POST", "/import", body=body)

    def export_page(self, max_sessions: int, offset: int) -> Answer:
        return self.request("GET", "/export", {"maxSessions": max_sessions, "offset": offset})

    def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        return self.request("GET", path, params)
