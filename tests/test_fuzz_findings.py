"""Regressions of what tests/fuzz/fuzz_sources.py and tests/fuzz/fuzz_delivery.py found
(docs/RELIABILITY.md, "Hardening round two"): each finding's smallest reproducer, as an
ordinary test."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentmemory_standin import StandIn
from delivery_helpers import on_server, store_records
from fuzz.fuzz_delivery import Elsewhere, HostileProxy

from wizard.cli import main
from wizard.core.inspection import inspect_file
from wizard.core.problems import Code
from wizard.remote.client import MAX_ANSWER_BYTES, Answer, Client, Unreachable
from wizard.remote.secret import Secret
from wizard.runs import delivering
from wizard.store import audit
from wizard.store.database import open_store

NATIVE = Path(__file__).parent / "fixtures" / "native"
SMALL = Path(__file__).parent / "fixtures" / "agentmemory" / "agentmemory-0.9.5-small.json"
SECRET = "fuzz-findings-secret"


def refused_cleanly(path: Path) -> str:
    """The refusal's message; fails when inspect_file accepted or an adapter raised."""
    report = inspect_file(path).report
    assert not report.ok
    message = report.errors[0].message
    assert "could not be converted" not in message, message
    return message


# -- the source readers ---------------------------------------------------------------------------
def mem0_install(tmp_path: Path) -> Path:
    dest = tmp_path / "mem0"
    dest.mkdir()
    shutil.copy(NATIVE / "mem0" / "history.db", dest / "history.db")
    shutil.copytree(NATIVE / "mem0" / "qdrant", dest / "qdrant")
    return dest


def test_a_damaged_history_db_in_a_mem0_install_is_refused_naming_it(tmp_path):
    """S1: a row SQLite cannot hand over (text that is not UTF-8) in the install's history.db
    raised OperationalError out of the folder reader: "could not be converted"."""
    install = mem0_install(tmp_path)
    con = sqlite3.connect(install / "history.db")
    con.execute("UPDATE history SET new_memory = CAST(X'FF' AS TEXT)")
    con.commit()
    con.close()
    report = inspect_file(install).report
    assert not report.ok and report.errors[0].code == Code.FILE_UNREADABLE
    assert "history.db is a damaged SQLite database" in refused_cleanly(install)


def test_a_schema_whose_error_text_is_not_utf8_is_refused(tmp_path):
    """S2: SQLite's message quoted the schema's bytes, which Python could not decode:
    UnicodeDecodeError out of open_untrusted."""
    db = tmp_path / "history.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE history (memory_id, event, new_memory)")
    con.commit()
    con.execute("PRAGMA writable_schema = ON")
    con.execute(
        "UPDATE sqlite_master SET sql = CAST(X'435245415445205441424c4520686973746f7279286129e9'"
        " AS TEXT) WHERE name = 'history'"
    )
    con.commit()
    con.close()
    assert "is not a readable SQLite database" in refused_cleanly(db)


def letta_code(tmp_path: Path) -> Path:
    root = tmp_path / "lc-local-backend"
    shutil.copytree(NATIVE / "letta-code" / "lc-local-backend", root)
    for stored in root.glob("memfs/*/memory/dot-git"):
        stored.rename(stored.with_name(".git"))
    return root


def test_a_file_name_too_long_for_its_companions_is_read(tmp_path):
    """S3: looking for ``NAME-journal`` beside a 250-character file name raised
    OSError(ENAMETOOLONG) out of the copier."""
    root = letta_code(tmp_path)
    (root / "agents" / ("x" * 250 + ".json")).write_text("{}")
    report = inspect_file(root).report
    assert report.format == "letta-code-local"  # read: its one problem is that agent's
    assert [p.message for p in report.errors] == ["agent has no id; skipped"]


@pytest.mark.parametrize("stamp", ["99999999999999999999", "-99999999999999", "253402300800"])
def test_a_reflog_time_out_of_range_is_left_out(tmp_path, stamp):
    """S4: a commit time beyond the years 1-9999 raised OverflowError / ValueError in the
    Letta Code reader (``datetime.fromtimestamp``)."""
    root = letta_code(tmp_path)
    (reflog,) = sorted(root.glob("memfs/*/memory/.git/logs/HEAD"))[:1]
    line = f"{'0' * 40} {'1' * 40} A <a@b> {stamp} +0000\tcommit: x\n"
    reflog.write_text(reflog.read_text() + line)
    result = inspect_file(root)
    assert result.report.ok, result.report.errors


# -- the delivery client and run ------------------------------------------------------------------
def test_two_requests_share_one_keep_alive_connection():
    """D1: an answer read to its end was never closed, so the next request on the same
    connection failed with ResponseNotReady: every delivery stopped at the health check."""
    with StandIn(secret=SECRET) as server:
        client = Client(server.url, Secret(SECRET, "test"))
        assert client.livez().status == 200
        assert client.health().field("version") == "0.9.29"
        assert client.health().status == 200
        client.close()


class Raw:
    """A loopback server that answers each connection with ``answer(conn)``."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.answer = answer
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    self.answer(conn)
                except OSError:
                    pass


@pytest.fixture
def raw() -> Iterator[Callable[[Callable[[socket.socket], None]], Raw]]:
    servers: list[Raw] = []

    def start(answer: Callable[[socket.socket], None]) -> Raw:
        servers.append(Raw(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.stop.set()
        server.sock.close()


def drip_head(stop: threading.Event) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.05):  # a header line now and then, never the end of the head
            conn.sendall(b"X: y\r\n")

    return answer


def continue_flood(stop: threading.Event) -> Callable[[socket.socket], None]:
    def answer(conn: socket.socket) -> None:
        while not stop.wait(0.001):
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * 50)

    return answer


@pytest.mark.parametrize("hostile", [drip_head, continue_flood])
def test_a_server_that_never_ends_its_head_is_cut_off_at_the_timeout(raw, hostile):
    """D2: the timeout bounded each read, not the answer: a head dripped a line at a time, or
    an endless flood of ``100 Continue``, held the client for as long as the server wished."""
    stop = threading.Event()
    server = raw(hostile(stop))
    try:
        t0 = time.monotonic()
        with pytest.raises(Unreachable) as exc:
            Client(server.url, Secret("", "test"), timeout=0.5).health()
        assert exc.value.timed_out and time.monotonic() - t0 < 3
    finally:
        stop.set()


def test_an_answer_is_bounded_by_what_agentmemory_can_send():
    """D3: answers were read up to 256 MiB, whose JSON (``[0,0,...]``) parses into gigabytes;
    no agentmemory answer passes its 16 MiB frame."""
    assert 16 * 1024 * 1024 < MAX_ANSWER_BYTES <= 32 * 1024 * 1024


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    db = tmp_path / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(db))
    monkeypatch.setenv("AGENTMEMORY_SECRET", SECRET)
    monkeypatch.setenv(delivering.PAUSE_ENV, "0.01")
    monkeypatch.setenv(delivering.CHUNK_ENV, str(64 * 1024))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["import", str(SMALL), "--db", str(db)]) == 0
    return db


def test_an_export_that_says_more_for_ever_ends_the_read_back(env, capsys):
    """D4: a server whose export pages all say ``hasMore`` (the same sessions again and again)
    held the read-back for ever, its keys piling up: the delivery now stops reading, says the
    sessions could not be read back, and ends incomplete (exit 5), audited."""
    with StandIn(secret=SECRET) as standin:
        elsewhere = Elsewhere()
        proxy = HostileProxy(
            standin.url, elsewhere.port, {"seed": 0, "rate": 1.0, "kinds": ["endless-pages"]}
        )
        try:
            capsys.readouterr()
            t0 = time.monotonic()
            assert main(["deliver", "--to", proxy.url, "--json"]) == 5
            assert time.monotonic() - t0 < 30
            out = json.loads(capsys.readouterr().out)
            assert out["error_code"] == "incomplete" and "sessions" in out["unverified"]
            assert on_server(standin) == store_records(env)  # the records did arrive
            assert elsewhere.contacts == 0
        finally:
            proxy.close()
            elsewhere.close()
    with open_store(env) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert (entry["operation"], entry["outcome"]) == ("deliver", "failed")


class FakeClient:
    """Answers the read-back's list endpoints with whatever a test gives."""

    def __init__(self, answers: dict[str, list[Answer]]) -> None:
        self.answers = answers

    def get(self, path: str, params: dict | None = None) -> Answer:
        queue = self.answers[path]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.mark.parametrize("sessions", [7, "abc", True, {"id": "s1"}, [{"id": "s1"}], None], ids=repr)
def test_the_list_read_back_takes_any_shape_of_answer(sessions):
    """D5: ``{"sessions": 7}`` (or observations that are a number) raised TypeError out of the
    fallback read-back; the same memories page given again and again looped for ever."""
    memories = Answer(200, {"memories": [{"id": "m1"}], "total": 10**9})
    fake = FakeClient(
        {
            "/sessions": [Answer(200, {"sessions": sessions})],
            "/observations": [Answer(200, {"observations": 5})],
            "/memories": [memories],
        }
    )
    reader = delivering._ReadBack(fake, delivering.DeliverOptions(), None)  # type: ignore[arg-type]
    reader.client = fake  # type: ignore[assignment]
    pairs = list(reader._fallback())
    assert ("memories", "m1") in pairs
    assert "memories" in reader.unverified  # the same page again: not read to its end


@pytest.mark.parametrize("refuse", [False, True], ids=["acknowledged", "refused"])
def test_server_text_utf8_cannot_hold_is_kept_replaced(env, capsys, monkeypatch, refuse):
    """D6: an answer holding a lone surrogate (``"\\ud800"``, valid JSON) was stored as the
    chunk's answer, or quoted in the audit's error, and SQLite's UTF-8 could not take it:
    UnicodeEncodeError out of the run. Server text is now kept short and replaced."""
    import agentmemory_standin as standin_module

    monkeypatch.setattr(standin_module, "_dumps", lambda value: json.dumps(value).encode())
    original = StandIn._import

    def odd(self, data, strategy, budget):
        answer = original(self, data, strategy, budget)
        if refuse:
            return {"success": False, "error": "no \ud800" + "x" * 100_000}
        return {**answer, "strategy": "merge\ud800"}

    monkeypatch.setattr(StandIn, "_import", odd)
    with StandIn(secret=SECRET, version="0.9.29\ud800") as server:
        capsys.readouterr()
        code = main(["deliver", "--to", server.url, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == (1 if refuse else 0), out
    assert out["server_version"] == "0.9.29?" and out["declared_version"] == "0.9.29"
    with open_store(env) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert entry["outcome"] == ("refused" if refuse else "succeeded")
    if refuse:
        assert "no ?" in entry["error"] and len(entry["error"]) < 2000
