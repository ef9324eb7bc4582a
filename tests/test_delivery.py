"""Delivering the store into a running agentmemory (docs/DELIVERY.md), against the stand-in
server of tests/agentmemory_standin.py on an ephemeral loopback port: chunks under the frame,
one wipe, retries, resume after kill -9, refusals, auth, read-back, audit, export --split."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from agentmemory_standin import StandIn
from delivery_helpers import on_server, store_records
from store_helpers import FIXTURES, ROOT, SMALL, cli_env

from wizard.cli import main
from wizard.core import chunking
from wizard.runs import delivering
from wizard.store import audit
from wizard.store.database import open_store

SECRET = "test-secret-7f3a9c"
ALICE = FIXTURES / "mem0" / "mem0-real-oss-2.2.1-getall-alice.json"
CHUNK = 64 * 1024  # the test hook's chunk size: the 0.9.5 sample makes several chunks


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "store.sqlite"
    monkeypatch.setenv("AGENTMEMORY_WIZARD_DB", str(path))
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("AGENTMEMORY_SECRET", SECRET)
    monkeypatch.setenv(delivering.PAUSE_ENV, "0.01")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.agentmemory of the user's
    return path


@pytest.fixture
def server():
    with StandIn(secret=SECRET) as standin:
        yield standin


def filled(db: Path, *files: Path) -> Path:
    for f in files:
        assert main(["import", str(f), "--db", str(db)]) == 0
    return db


def deliver(server: StandIn, *args: str) -> int:
    return main(["deliver", "--to", server.url, *args])


def out_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


# -- the whole store, in chunks ----------------------------------------------------------------
def test_the_store_arrives_in_chunks_verified_and_audited(db, server, capsys, monkeypatch):
    filled(db, SMALL, ALICE)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    capsys.readouterr()
    assert deliver(server, "--json") == 0
    out = out_json(capsys)
    assert out["ok"] and out["verified"] and out["chunks"] > 3
    assert out["declared_version"] == out["server_version"] == "0.9.29"
    assert out["sent"]["memories"] == 69 and out["server_stats"]["observations"] == 500
    assert on_server(server) == store_records(db)
    assert all(r["bytes"] <= CHUNK for r in server.requests if r["method"] == "POST")
    assert not any(r.get("origin") for r in server.requests)  # no Origin header, ever
    # the wizard's verbatim source copies stay home
    assert all("source" not in m for m in server.store["memories"].values())
    with open_store(db) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert entry["operation"] == "deliver" and entry["outcome"] == "succeeded"
    assert entry["options"]["url"] == server.url and entry["counts"]["chunks"] == out["chunks"]


def test_with_source_sends_the_verbatim_copies(db, server, capsys):
    filled(db, ALICE)
    capsys.readouterr()
    assert deliver(server, "--with-source", "--json") == 0
    assert all("source" in m for m in server.store["memories"].values())
    out = out_json(capsys)
    assert out["restarted"] is None and out["already"] == 0 and not out["resumed"]
    with open_store(db) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert entry["options"]["with_source"] is True and entry["counts"]["too_big_keys"] == []


def test_only_the_wizards_source_copy_stays_home():
    from wizard.store.deliveries import _text

    copy = '{"id":"m1","source":{"system":"mem0","format":"mem0-v1","raw":{}}}'
    own = '{"id":"e1","source":"node-a","target":"node-b"}'
    assert json.loads(_text(copy, with_source=False)) == {"id": "m1"}
    assert _text(own, with_source=False) == own  # an edge's own "source" always goes
    assert _text(copy, with_source=True) == copy


def test_a_store_whose_path_has_a_question_mark_and_a_hash_delivers(db, tmp_path, server):
    db = tmp_path / "odd?name#1 %20.sqlite"
    filled(db, SMALL)
    assert main(["deliver", "--to", server.url, "--db", str(db)]) == 0
    assert on_server(server) == store_records(db)


def test_a_bug_mid_delivery_is_audited_as_failed_and_reported_without_a_traceback(
    db, server, capsys, monkeypatch
):
    filled(db, SMALL)

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug in the wizard")

    monkeypatch.setattr(delivering, "_verify", broken)
    assert deliver(server) == 3
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError" in err and "Traceback" not in err
    with open_store(db) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert (entry["operation"], entry["outcome"]) == ("deliver", "failed")
    assert entry["error_code"] == "internal"


def test_an_imports_access_log_goes_with_its_unchanged_memory(db, server, tmp_path, capsys):
    memory = {"id": "m1", "type": "fact", "content": "kept", "createdAt": "2026-01-01T00:00:00Z"}

    def export(count: int) -> Path:
        path = tmp_path / f"export-{count}.json"
        data = {
            "version": "0.9.29",
            "exportedAt": "2026-01-02T00:00:00Z",
            "sessions": [],
            "observations": {},
            "memories": [memory],
            "summaries": [],
            "accessLogs": [{"memoryId": "m1", "count": count}],
        }
        path.write_text(json.dumps(data))
        return path

    filled(db, export(1), export(2))  # the second import rewrites only the access log
    capsys.readouterr()
    assert deliver(server, "--audit-id", "2", "--json") == 0
    assert out_json(capsys)["sent"] == {"memories": 1, "accessLogs": 1}
    assert server.store["accessLogs"]["m1"]["count"] == 2


def test_a_read_back_that_fails_for_a_moment_is_retried(db, server, capsys):
    filled(db, SMALL)
    server.fail_reads(2)
    capsys.readouterr()
    assert deliver(server, "--json") == 0
    assert out_json(capsys)["verified"] is True
    reads = [r for r in server.requests if r["path"].startswith("/agentmemory/export")]
    assert [r["status"] for r in reads[:3]] == [503, 503, 200]


def test_a_read_back_page_that_times_out_is_asked_again_smaller(db, server, capsys, monkeypatch):
    """A big export page can take the server longer than the client waits: the read-back
    halves the page and goes on, instead of leaving the delivery unverified."""
    from wizard.remote import client as client_module

    filled(db, SMALL)
    monkeypatch.setattr(client_module, "TIMEOUT_S", 0.5)
    server.slow_pages_over = 200  # pages of more sessions answer after the delay
    server.delay = 5.0
    capsys.readouterr()
    assert deliver(server, "--json") == 0
    assert out_json(capsys)["verified"] is True
    asked = [r["path"] for r in server.requests if r["path"].startswith("/agentmemory/export")]
    assert "maxSessions=1000" in asked[0] and "maxSessions=125" in asked[-1]


def test_dry_run_reaches_the_server_and_sends_nothing(db, server, capsys):
    filled(db, SMALL)
    server.seed(
        {
            "version": "0.9.29",
            "sessions": [],
            "observations": {},
            "summaries": [],
            "memories": [{"id": "other", "content": "kept", "type": "fact"}],
        }
    )
    capsys.readouterr()
    assert deliver(server, "--dry-run", "--strategy", "replace", "--json") == 0
    out = out_json(capsys)
    assert out["dry_run"] and out["chunks"] >= 1 and out["sent"]["observations"] == 500
    assert out["would_wipe"] == {"memories": 1, "sessions": 0}
    assert server.imports == [] and "other" in server.store["memories"]
    with open_store(db) as store:  # a dry run writes nothing
        assert [e["operation"] for e in audit.list_entries(store)] == ["import"]


def test_replace_wipes_once_then_merges(db, server, capsys, monkeypatch):
    filled(db, SMALL)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    server.seed(
        {
            "version": "0.9.29",
            "sessions": [],
            "observations": {},
            "summaries": [],
            "memories": [{"id": "old", "content": "gone", "type": "fact"}],
        }
    )
    assert deliver(server, "--strategy", "replace") == 0
    strategies = [i["strategy"] for i in server.imports]
    assert strategies[0] == "replace" and set(strategies[1:]) == {"merge"}
    assert not any(server.imports[0]["counts"].values())  # the wipe carries nothing
    assert "old" not in server.store["memories"]
    assert on_server(server) == store_records(db)


# -- faults --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["500-after-partial-write", "drop", "drop-after-write", "404"])
@pytest.mark.parametrize("strategy", ["merge", "replace"])
def test_a_server_failing_every_few_requests_still_gets_everything(
    db, server, capsys, monkeypatch, kind, strategy
):
    filled(db, SMALL, ALICE)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    server.fail_every(3, kind)
    capsys.readouterr()
    assert deliver(server, "--strategy", strategy, "--json") == 0
    out = out_json(capsys)
    assert out["verified"] and on_server(server) == store_records(db)
    assert [i["strategy"] for i in server.imports].count("replace") == (strategy == "replace")


def test_a_refusal_stops_with_the_servers_message_and_the_chunks_keys(
    db, server, capsys, monkeypatch
):
    filled(db, SMALL)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    from agentmemory_standin import _Refused

    validate = server._validate
    calls = []

    def refusing(data):
        calls.append(1)
        if len(calls) == 2:
            raise _Refused("Too many memories (max 50000)")
        return validate(data)

    monkeypatch.setattr(server, "_validate", refusing)
    capsys.readouterr()
    assert deliver(server, "--json") == 1
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["outcome"] == "refused" and out["error_code"] == "server-refused"
    assert "Too many memories (max 50000)" in out["error"] and "chunk 2" in out["error"]
    assert out["refused_keys"] and len(server.imports) == 2  # nothing sent after the refusal
    with open_store(db) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert entry["outcome"] == "refused" and "Too many memories" in entry["error"]


def test_a_wrong_secret_says_so_and_sends_nothing(db, server, capsys, tmp_path):
    filled(db, SMALL)
    token = tmp_path / "token"
    token.write_text("not-the-secret\n")
    capsys.readouterr()
    assert deliver(server, "--token-file", str(token)) == 4
    err = capsys.readouterr().err
    assert "refused the secret" in err and "not-the-secret" not in err
    assert server.imports == [] and not any(r["method"] == "POST" for r in server.requests)


def test_no_server_is_exit_4(db, capsys):
    filled(db, SMALL)
    with StandIn() as gone:
        url = gone.url
    assert main(["deliver", "--to", url]) == 4
    err = capsys.readouterr().err
    assert "no agentmemory answers" in err and "--to URL" in err
    assert "resume" not in err  # nothing was started: there is nothing to resume


def test_plain_http_to_another_machine_with_a_secret_is_refused_before_anything(db, capsys):
    filled(db, SMALL)
    assert main(["deliver", "--to", "http://192.0.2.10:3111"]) == 2
    assert "unencrypted" in capsys.readouterr().err


def test_a_partial_replace_is_a_usage_error(db, server, capsys):
    filled(db, SMALL)
    assert deliver(server, "--strategy", "replace", "--audit-id", "1") == 2
    assert "whole store" in capsys.readouterr().err


def test_replace_from_an_empty_store_is_refused_before_the_server_is_emptied(db, server, capsys):
    open_store(db).close()
    assert deliver(server, "--strategy", "replace") == 2
    assert "the store is empty" in capsys.readouterr().err
    assert not any(r["method"] == "POST" for r in server.requests)


def test_one_imports_records_only(db, server, capsys):
    filled(db, SMALL, ALICE)
    capsys.readouterr()
    assert deliver(server, "--audit-id", "2", "--json") == 0
    out = out_json(capsys)
    assert out["scope"] == "import:2" and out["sent"] == {"sessions": 2, "memories": 19}
    assert len(server.store["memories"]) == 19 and out["verified"]


def test_no_secret_goes_without_auth_and_says_so(db, capsys, monkeypatch):
    filled(db, SMALL)
    monkeypatch.delenv("AGENTMEMORY_SECRET")
    with StandIn() as open_server:
        assert main(["deliver", "--to", open_server.url]) == 0
    assert "requests go without auth" in capsys.readouterr().err


def test_the_secret_is_in_no_file_the_app_writes(db, server, tmp_path, capsys):
    filled(db, SMALL)
    assert deliver(server) == 0
    assert main(["audit", "--json"]) == 0
    assert SECRET not in capsys.readouterr().out
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


# -- reading back --------------------------------------------------------------------------------
def test_oversized_export_pages_are_halved(db, capsys, monkeypatch):
    filled(db, SMALL)
    with StandIn(secret=SECRET, export_limit=200_000) as small_pages:
        capsys.readouterr()
        assert main(["deliver", "--to", small_pages.url, "--json"]) == 0
        assert out_json(capsys)["verified"]
        pages = [r for r in small_pages.requests if r["path"].startswith("/agentmemory/export")]
        assert len(pages) > 2


def test_export_refused_at_every_size_falls_back_and_says_what_it_could_not_check(db, capsys):
    filled(db, SMALL)
    with StandIn(secret=SECRET, export_limit=1_000) as tiny:
        capsys.readouterr()
        assert main(["deliver", "--to", tiny.url, "--json"]) == 5
        out = out_json(capsys)
    assert out["outcome"] == "failed" and out["error_code"] == "incomplete"
    assert out["missing_counts"] == {} and "summaries" in out["unverified"]


def test_records_missing_on_the_server_are_listed(db, server, capsys, monkeypatch):
    filled(db, SMALL)
    original = server._import

    def forgetful(body, strategy, budget):
        answer = original(body, strategy, budget)
        server.store["memories"].pop(next(iter(server.store["memories"]), None), None)
        return answer

    monkeypatch.setattr(server, "_import", forgetful)
    capsys.readouterr()
    assert deliver(server, "--json") == 5
    out = out_json(capsys)
    assert out["missing_counts"] == {"memories": 1} and len(out["missing"]["memories"]) == 1


# -- resuming ------------------------------------------------------------------------------------
def _wait(predicate, proc: subprocess.Popen, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the delivery did not get there"
        time.sleep(0.01)


def test_a_delivery_killed_midway_resumes_without_a_second_wipe(db, server, tmp_path):
    filled(db, SMALL, ALICE)
    env = cli_env(tmp_path, db, **{delivering.CHUNK_ENV: str(CHUNK), "AGENTMEMORY_SECRET": SECRET})
    server.delay = 30.0
    server.fail_request(4, "timeout")  # the wipe and two chunks pass; the third hangs
    cmd = [sys.executable, "-m", "wizard", "deliver", "--to", server.url, "--strategy", "replace"]
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    _wait(lambda: len(server.imports) >= 3 and server._import_requests >= 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    server.clear_faults()
    server.delay = 0.0
    done = subprocess.run(cmd + ["--json"], env=env, cwd=str(ROOT), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["resumed"] and out["verified"] and out["chunks"] > 4
    strategies = [i["strategy"] for i in server.imports]
    assert strategies.count("replace") == 1  # never a second wipe
    sent_again = len(server.imports) - 3  # after the first three acknowledged requests
    assert sent_again == out["chunks"] - 2  # the two acknowledged chunks were not sent again
    assert on_server(server) == store_records(db)
    with open_store(db) as store:
        outcomes = [e["outcome"] for e in audit.list_entries(store) if e["operation"] == "deliver"]
    assert outcomes == ["succeeded", "interrupted"]  # the killed attempt is in the history


def test_a_changed_store_starts_a_new_delivery_and_says_why(db, server, capsys, monkeypatch):
    filled(db, SMALL)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    for n in range(3, 3 + delivering.DeliverOptions().attempts):
        server.fail_request(n, "404")  # the third request never gets through
    assert deliver(server) == 4  # gave up after its tries: resumable
    server.clear_faults()
    filled(db, ALICE)  # the store changes
    capsys.readouterr()
    assert deliver(server) == 0
    out = capsys.readouterr().out
    assert "the store changed since delivery #1 started" in out


# -- by hand -------------------------------------------------------------------------------------
def post_body(server: StandIn, body: bytes) -> dict:
    """POST one request body written by ``export --split``, as a user would by hand."""
    request = urllib.request.Request(
        server.url + "/agentmemory/import",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def test_export_split_writes_request_bodies_under_the_size(db, server, tmp_path, capsys):
    filled(db, SMALL, ALICE)
    out = tmp_path / "bodies" / "store-export.json"
    out.parent.mkdir()
    assert main(["export", "--out", str(out), "--split", "100KiB", "--strategy", "replace"]) == 0
    files = sorted(out.parent.glob("store-export.*.json"))
    assert [f.name for f in files[:2]] == ["store-export.001.json", "store-export.002.json"]
    for f in files:
        assert f.stat().st_size <= 100 * 1024
        assert os.stat(f).st_mode & 0o077 == 0
        assert post_body(server, f.read_bytes())["success"] is True
    assert json.loads(files[0].read_bytes())["strategy"] == "replace"
    assert on_server(server) == store_records(db)


def test_export_split_halves_a_chunk_whose_size_was_underestimated(
    db, server, tmp_path, monkeypatch
):
    """When the packing's estimate is short, the records are split again, never left out."""
    from wizard.core import chunking

    real = chunking._group_size
    monkeypatch.setattr(chunking, "_group_size", lambda items: real(items) // 3)
    filled(db, SMALL, ALICE)
    out = tmp_path / "bodies" / "store-export.json"
    out.parent.mkdir()
    assert main(["export", "--out", str(out), "--split", "100KiB"]) == 0
    files = sorted(out.parent.glob("store-export.*.json"))
    assert len(files) > 2
    for f in files:
        assert f.stat().st_size <= 100 * 1024
        assert post_body(server, f.read_bytes())["success"] is True
    assert on_server(server) == store_records(db)  # nothing left out


def test_export_split_refuses_to_write_beside_an_earlier_split(db, tmp_path, capsys):
    filled(db, SMALL)
    out = tmp_path / "store-export.json"
    stale = tmp_path / "store-export.007.json"
    stale.write_text("{}")
    assert main(["export", "--out", str(out), "--split", "100KiB"]) == 2
    assert "earlier split" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("store-export*")) == [stale.name]


def test_a_bucket_id_counts_its_utf8_bytes():
    sid = "\U0001f600" * 300  # 1200 bytes in UTF-8, 300 characters
    items = [chunking.item("observations", f"o{i}", '"x"', sid) for i in range(3)]
    [chunk] = list(chunking.pack([items], max_bytes=10_000))
    assert 0 <= chunk.size - len(chunking.body(chunk, "0.9.5", "merge")) < 200


# -- as a new user would: a real export and a store bigger than one frame ------------------------
def _big_export(path: Path) -> Path:
    """An agentmemory export of about 20 MB: more than one 16 MiB frame."""
    sessions, observations = [], {}
    text = "A line of an observation's narrative that makes it about a kilobyte long. " * 14
    for s in range(2500):
        sid = f"ses_big_{s:05d}"
        sessions.append({"id": sid, "project": "/big", "startedAt": "2026-01-01T00:00:00.000Z"})
        observations[sid] = [
            {
                "id": f"obs_{s:05d}_{o}",
                "sessionId": sid,
                "timestamp": "2026-01-01T00:00:00.000Z",
                "type": "conversation",
                "title": f"note {o}",
                "narrative": text,
            }
            for o in range(8)
        ]
    data = {
        "version": "0.9.29",
        "sessions": sessions,
        "observations": observations,
        "memories": [],
        "summaries": [],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    assert path.stat().st_size > 17 * 1024 * 1024
    return path


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["merge", "replace"])
def test_a_real_export_and_a_store_over_16_mib_land_complete_through_faults(
    db, server, tmp_path, capsys, strategy
):
    filled(db, ALICE, _big_export(tmp_path / "big.json"))
    server.fail_every(3, "500-after-partial-write")
    capsys.readouterr()
    assert deliver(server, "--strategy", strategy, "--json") == 0
    out = out_json(capsys)
    assert out["verified"] and out["chunks"] >= 3
    assert on_server(server) == store_records(db)
    assert max(r["bytes"] for r in server.requests if r["method"] == "POST") <= 15 * 1024 * 1024
    with open_store(db) as store:
        entry = audit.list_entries(store, limit=1)[0]
    assert (entry["operation"], entry["outcome"], entry["strategy"]) == (
        "deliver",
        "succeeded",
        strategy,
    )


def test_the_audit_window_shows_and_filters_deliveries(db, server, qtbot, capsys):
    from wizard.ui import open_audit_history

    filled(db, SMALL)
    assert deliver(server) == 0
    window = open_audit_history(db)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.is_loading(), timeout=10_000)
    combo = window.findChild(object, "operationFilter")
    combo.setCurrentIndex(combo.findData("deliver"))
    assert window.proxy.rowCount() == 1
    window.table.selectRow(0)
    details = window.details.toPlainText()
    assert f"Server:          {server.url}" in details and "the whole store" in details
    assert SECRET not in details


def test_requests_over_the_servers_frame_never_land_and_the_delivery_says_so(
    db, capsys, monkeypatch
):
    """A server whose frame is smaller than the wizard's requests: each gets a 500 and then the
    404s of the worker re-registering; after its tries the delivery stops, resumable, exit 4."""
    filled(db, SMALL)
    monkeypatch.setenv(delivering.CHUNK_ENV, str(CHUNK))
    with StandIn(secret=SECRET, frame_limit=CHUNK // 2) as small_frame:
        capsys.readouterr()
        assert main(["deliver", "--to", small_frame.url, "--json"]) == 4
        out = out_json(capsys)
        statuses = [r["status"] for r in small_frame.requests if r["method"] == "POST"]
    assert out["error_code"] == "unreachable" and "did not take a request" in out["error"]
    assert statuses[0] == 500 and 404 in statuses
    assert small_frame.imports == []  # nothing reached the importer


def test_an_empty_token_file_or_an_import_with_nothing_left_is_a_usage_error(
    db, server, tmp_path, capsys
):
    filled(db, SMALL)
    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    assert deliver(server, "--token-file", str(empty)) == 2
    assert "is empty" in capsys.readouterr().err
    filled(db, SMALL)  # the same file again: import #2 rewrote nothing, #1 still holds it all
    assert deliver(server, "--audit-id", "2") == 2
    assert "left nothing to deliver" in capsys.readouterr().err
    assert server.imports == []


@pytest.mark.parametrize(
    ("server", "declared"),
    [
        ("0.9.29", "0.9.29"),
        ("0.9.30", "0.9.29"),
        ("1.2.0", "0.9.29"),
        ("0.7.8", "0.7.7"),
        ("0.2.0", "0.3.0"),
        (None, "0.9.29"),
        ("nightly", "0.9.29"),
    ],
)
def test_the_declared_version_follows_the_servers_own(server, declared):
    assert delivering.declared_version(server) == declared
