"""The delivery client treats the server as untrusted: it never follows a redirect (so the
secret goes only to the address given), reads answers of bounded size within its timeout, and
takes an answer that is not JSON (NaN, too deep, binary) as no answer body."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from wizard.remote import client as client_module
from wizard.remote.client import Client, Unreachable, parse_answer
from wizard.remote.secret import Secret


class RawServer:
    """A loopback server that answers every request with ``answer(conn)`` (bytes it sends)."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.requests.append(conn.recv(65536))
                try:
                    self.answer(conn)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[socket.socket], None]) -> RawServer:
        server = RawServer(answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def reply(body: bytes, status: str = "200 OK", extra: str = "") -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + body)

    return answer


def test_a_redirect_is_never_followed_and_the_secret_stays(serve):
    elsewhere = serve(reply(b'{"status": "ok"}'))
    server = serve(
        reply(b"", "307 Temporary Redirect", f"Location: http://127.0.0.1:{elsewhere.port}/\r\n")
    )
    answer = Client(f"http://127.0.0.1:{server.port}", Secret("s3cret", "test")).health()
    assert answer.status == 307
    assert "never follows a redirect" in answer.field("error")
    assert elsewhere.requests == []  # nothing, and no secret, went to the other address


def test_an_answer_too_large_is_refused(serve, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_ANSWER_BYTES", 1000)
    monkeypatch.setattr(client_module, "READ_CHUNK", 100)
    server = serve(reply(b"[" + b"1," * 5000 + b"1]"))
    with pytest.raises(Unreachable, match="larger than"):
        Client(f"http://127.0.0.1:{server.port}", Secret("", "test")).health()


def test_a_server_that_drips_its_answer_is_cut_off(serve):
    gate = threading.Event()

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        while not gate.wait(0.05):  # a byte now and then, never the whole answer
            conn.sendall(b" ")

    server = serve(drip)
    try:
        with pytest.raises(Unreachable) as exc:
            Client(f"http://127.0.0.1:{server.port}", Secret("", "test"), timeout=0.5).health()
        assert exc.value.timed_out
    finally:
        gate.set()


@pytest.mark.parametrize(
    "raw", [b'{"total": NaN}', b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"{'a': 1}"]
)
def test_an_answer_that_is_not_json_has_no_body(raw):
    assert parse_answer(raw) is None
