"""The stand-in agentmemory server (tests/agentmemory_standin.py) behaves as the delivery spec
says a real one does: auth, the import wrapper and its refusals, the strategies, the frame
limit, paged export, the list endpoints and every injected fault. Loopback only."""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import agentmemory_standin
import pytest
from agentmemory_standin import FAULT_KINDS, StandIn, running

from wizard.core.caps import LIMITS
from wizard.core.versions import SUPPORTED_VERSIONS

MESSAGES = {name: message for name, _limit, message in LIMITS}
DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def call(
    standin: StandIn,
    method: str,
    path: str,
    body: object = None,
    *,
    token: str | None = None,
    content_type: str | None = "application/json",
    headers: dict | None = None,
    timeout: float = 5,
) -> tuple[int, dict]:
    """One request on its own connection; the answer's status and JSON."""
    url = urlsplit(standin.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if data is not None and content_type:
            sent["Content-Type"] = content_type
        if token:
            sent["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
        assert response.getheader("Content-Type") == "application/json"
        compact = json.dumps(json.loads(payload), separators=(",", ":"), ensure_ascii=False)
        assert payload == compact.encode("utf-8")
        return response.status, json.loads(payload)
    finally:
        conn.close()


def data(**collections: object) -> dict:
    """An ExportData with the four collections mem::import requires, plus ``collections``."""
    return {
        "version": "0.9.29",
        "sessions": [],
        "observations": {},
        "memories": [],
        "summaries": [],
        **collections,
    }


def post(standin: StandIn, export_data: dict, strategy: str | None = "merge", **kw) -> tuple:
    body = {"exportData": export_data} | ({"strategy": strategy} if strategy else {})
    return call(standin, "POST", "/agentmemory/import", body, **kw)


def session(sid: str, project: str = "p") -> dict:
    return {"id": sid, "project": project, "startedAt": "2026-01-01T00:00:00Z"}


def obs(oid: str, sid: str) -> dict:
    return {"id": oid, "sessionId": sid, "timestamp": "2026-01-02T00:00:00Z", "title": oid}


def memory(mid: str, **fields: object) -> dict:
    return {"id": mid, "createdAt": "2026-01-03T00:00:00Z", "title": mid, **fields}


@pytest.fixture
def standin():
    with running() as server:
        yield server


# -- auth ------------------------------------------------------------------------------------


def test_auth_with_a_secret():
    with running(secret="s3cret") as s:
        assert call(s, "GET", "/agentmemory/livez") == (200, {"status": "ok"})
        assert call(s, "GET", "/agentmemory/health") == (401, {"error": "unauthorized"})
        assert call(s, "GET", "/agentmemory/health", token="wrong") == (
            401,
            {"error": "unauthorized"},
        )
        assert call(s, "GET", "/agentmemory/health", token="s3cret") == (
            200,
            {"status": "ok", "version": "0.9.29"},
        )
        status, _ = post(s, data(memories=[memory("m1")]), token="wrong")
        assert status == 401
        assert s.store["memories"] == {} and s.imports == [] and s.audit_rows == 0
        assert post(s, data(memories=[memory("m1")]), token="s3cret")[0] == 200
        assert [r["auth_ok"] for r in s.requests] == [True, False, False, True, False, True]
        assert [r["status"] for r in s.requests] == [200, 401, 401, 200, 401, 200]


def test_no_secret_means_no_auth_and_the_origin_header_is_noted(standin):
    assert call(standin, "GET", "/agentmemory/health")[0] == 200
    call(standin, "GET", "/agentmemory/sessions", headers={"Origin": "http://evil"})
    assert [r["origin"] for r in standin.requests] == [None, "http://evil"]
    assert all(r["auth_ok"] for r in standin.requests)


def test_unknown_paths_and_methods_are_404(standin):
    assert call(standin, "GET", "/agentmemory/nope") == (404, {"error": "not found"})
    assert call(standin, "GET", "/agentmemory/import")[0] == 404
    assert call(standin, "POST", "/agentmemory/export", {})[0] == 404


# -- the import wrapper ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (json.dumps({"exportData": data()}).encode(), "text/plain"),
        (json.dumps({"exportData": data()}).encode(), None),
        (b'{"exportData": ', "application/json"),
        (b'{"exportData": {"version": NaN}}', "application/json"),
        (json.dumps({"strategy": "merge"}).encode(), "application/json"),
        (json.dumps({"exportData": None}).encode(), "application/json"),
        (json.dumps([data()]).encode(), "application/json"),
    ],
    ids=["text-plain", "no-type", "bad-json", "nan", "no-exportData", "null", "bare-list"],
)
def test_the_body_must_be_json_with_export_data(standin, raw, content_type):
    status, answer = call(standin, "POST", "/agentmemory/import", raw, content_type=content_type)
    assert (status, answer) == (400, {"error": "exportData is required"})
    assert standin.imports == [] and all(not v for v in standin.store.values())


def test_json_with_a_charset_is_json(standin):
    body = json.dumps({"exportData": data(memories=[memory("é")])}).encode()
    ctype = "application/json; charset=utf-8"
    status, answer = call(standin, "POST", "/agentmemory/import", body, content_type=ctype)
    assert (status, answer["success"], answer["memories"]) == (200, True, 1)
    assert "é" in standin.store["memories"]


def refusing(**fields: object) -> dict:
    """An ExportData holding one memory (so that a write would show), changed by ``fields``."""
    return {**data(memories=[memory("m1")]), **fields}


@pytest.mark.parametrize(
    ("export_data", "error"),
    [
        ({"memories": [memory("m1")]}, "exportData with string version is required"),
        (refusing(version=29), "exportData with string version is required"),
        (refusing(version="0.9.30"), "Unsupported export version: 0.9.30"),
        (refusing(version="0.7.8"), "Unsupported export version: 0.7.8"),
        (refusing(sessions={}), "sessions must be an array"),
        (refusing(memories=None), "memories must be an array"),
        (refusing(summaries="x"), "summaries must be an array"),
        (refusing(observations=[]), "observations must be an object"),
        (refusing(observations={"s": {}}), "observation values must be arrays"),
    ],
)
def test_a_refusal_is_http_200_with_success_false_and_writes_nothing(standin, export_data, error):
    status, answer = post(standin, export_data)
    assert (status, answer) == (200, {"success": False, "error": error})
    assert standin.store["memories"] == {}
    assert standin.audit_rows == 0
    assert [i["success"] for i in standin.imports] == [False]


def test_the_server_accepts_the_wizards_versions_up_to_its_own():
    with running() as s:
        for version in SUPPORTED_VERSIONS:
            assert post(s, data(version=version))[1]["success"] is True
        assert s.audit_rows == len(SUPPORTED_VERSIONS) == 57
    with running(version="0.9.5") as old:
        assert post(old, data(version="0.9.5"))[1]["success"] is True
        refused = post(old, data(version="0.9.6"))[1]
        assert refused == {"success": False, "error": "Unsupported export version: 0.9.6"}


@pytest.mark.parametrize(
    ("export_data", "cap"),
    [
        (refusing(sessions=[{"id": f"s{i}"} for i in range(10_001)]), "sessions"),
        (refusing(observations={f"s{i}": [] for i in range(10_001)}), "observationBuckets"),
        (
            refusing(observations={"s": [{"id": f"o{i}"} for i in range(5_001)]}),
            "observationsPerSession",
        ),
        (refusing(summaries=[{"sessionId": f"s{i}"} for i in range(10_001)]), "summaries"),
    ],
)
def test_a_request_over_a_cap_is_refused_whole(standin, export_data, cap):
    status, answer = post(standin, export_data)
    assert (status, answer) == (200, {"success": False, "error": MESSAGES[cap]})
    assert all(not records for records in standin.store.values())


def test_the_caps_that_are_large_to_build(standin, monkeypatch):
    """The total-observation and memory caps, with agentmemory's messages, at smaller limits."""
    caps = dict(agentmemory_standin._CAP)
    caps["observations"] = (3, MESSAGES["observations"])
    caps["memories"] = (2, MESSAGES["memories"])
    monkeypatch.setattr(agentmemory_standin, "_CAP", caps)
    two_buckets = {"a": [obs("o1", "a"), obs("o2", "a")], "b": [obs("o3", "b"), obs("o4", "b")]}
    assert post(standin, data(observations=two_buckets))[1]["error"] == MESSAGES["observations"]
    many = [memory(f"m{i}") for i in range(3)]
    assert post(standin, data(memories=many))[1]["error"] == MESSAGES["memories"]
    assert all(not records for records in standin.store.values())


def test_over_the_access_log_cap_the_rest_is_written_first(standin, monkeypatch):
    caps = dict(agentmemory_standin._CAP)
    caps["accessLogs"] = (1, MESSAGES["accessLogs"])
    monkeypatch.setattr(agentmemory_standin, "_CAP", caps)
    logs = [{"memoryId": "m1", "count": 1}, {"memoryId": "m2", "count": 1}]
    export_data = data(
        sessions=[session("s1")], memories=[memory("m1"), memory("m2")], accessLogs=logs
    )
    status, answer = post(standin, export_data)
    assert (status, answer) == (200, {"success": False, "error": MESSAGES["accessLogs"]})
    assert set(standin.store["memories"]) == {"m1", "m2"} and set(standin.store["sessions"]) == {
        "s1"
    }
    assert standin.store["accessLogs"] == {} and standin.audit_rows == 0


# -- what mem::import writes -----------------------------------------------------------------


def test_a_merge_writes_by_key_stamps_origin_and_counts(standin):
    export_data = data(
        sessions=[session("s1")],
        observations={"s1": [obs("o1", "s1"), obs("o2", "s1")]},
        memories=[memory("m1"), memory("m2", origin={"channel": "user", "capturedAt": "x"})],
        summaries=[{"sessionId": "s1", "title": "t"}],
        profiles=[{"project": "p", "topConcepts": []}],
        lessons=[{"id": "l1"}],
        somethingNew=[{"id": "n1"}],
    )
    status, answer = post(standin, export_data)
    assert (status, answer) == (
        200,
        {
            "success": True,
            "strategy": "merge",
            "sessions": 1,
            "observations": 2,
            "memories": 2,
            "summaries": 1,
            "skipped": 0,
        },
    )
    store = standin.store
    assert set(store["observations"]) == {("s1", "o1"), ("s1", "o2")}
    assert store["observations"][("s1", "o1")]["origin"] == {
        "channel": "import",
        "capturedAt": "2026-01-02T00:00:00Z",
    }
    assert store["memories"]["m1"]["origin"] == {
        "channel": "import",
        "capturedAt": "2026-01-03T00:00:00Z",
    }
    assert store["memories"]["m1"]["sessionIds"] == []
    assert store["memories"]["m2"]["origin"]["channel"] == "user"
    assert set(store["summaries"]) == {"s1"} and set(store["profiles"]) == {"p"}
    assert set(store["lessons"]) == {"l1"}
    assert "somethingNew" not in store  # mem::import knows no such collection
    assert standin.audit_rows == 1
    assert standin.imports == [
        {
            "strategy": "merge",
            "counts": {
                "sessions": 1,
                "observations": 2,
                "memories": 2,
                "summaries": 1,
                "profiles": 1,
                "lessons": 1,
                "somethingNew": 1,
            },
            "success": True,
        }
    ]

    changed = data(memories=[memory("m1", title="new")], observations={"s1": [obs("o1", "s1")]})
    answer = post(standin, changed)[1]
    assert (answer["memories"], answer["observations"], answer["skipped"]) == (1, 1, 0)
    assert store["memories"]["m1"]["title"] == "new"
    assert len(store["memories"]) == 2 and standin.audit_rows == 2


def test_a_missing_or_unknown_strategy_is_a_merge(standin):
    standin.seed(data(memories=[memory("m1")]))
    assert post(standin, data(memories=[memory("m1", title="x")]), strategy=None)[1][
        "strategy"
    ] == ("merge")
    answer = post(standin, data(memories=[memory("m1", title="y")]), strategy="bogus")[1]
    assert (answer["strategy"], answer["memories"]) == ("bogus", 1)
    assert standin.store["memories"]["m1"]["title"] == "y"
    assert [i["strategy"] for i in standin.imports] == ["merge", "merge"]
    assert [r["strategy"] for r in standin.requests] == [None, "bogus"]


def test_skip_writes_only_absent_keys(standin):
    standin.seed(
        data(sessions=[session("s1")], memories=[memory("m1")], lessons=[{"id": "l1", "v": 1}])
    )
    export_data = data(
        sessions=[session("s1"), session("s2")],
        memories=[memory("m1", title="changed"), memory("m2")],
        lessons=[{"id": "l1", "v": 2}],
    )
    answer = post(standin, export_data, strategy="skip")[1]
    assert answer == {
        "success": True,
        "strategy": "skip",
        "sessions": 1,
        "observations": 0,
        "memories": 1,
        "summaries": 0,
        "skipped": 3,
    }
    assert standin.store["memories"]["m1"]["title"] == "m1"
    assert standin.store["lessons"]["l1"]["v"] == 1
    assert set(standin.store["sessions"]) == {"s1", "s2"}


def test_replace_wipes_every_collection_even_those_absent_from_the_request(standin):
    standin.seed(
        data(
            sessions=[session("old")],
            observations={"old": [obs("o", "old")], "orphan": [obs("o", "orphan")]},
            memories=[memory("m-old")],
            profiles=[{"project": "p"}],
            lessons=[{"id": "l1"}],
            graphNodes=[{"id": "g1"}],
            accessLogs=[{"memoryId": "m-old", "count": 3}],
        )
    )
    assert standin.store["accessLogs"]
    answer = post(standin, data(memories=[memory("m-new")]), strategy="replace")[1]
    assert answer["success"] is True and answer["strategy"] == "replace"
    assert {name: set(records) for name, records in standin.store.items() if records} == {
        "memories": {"m-new"}
    }
    assert post(standin, data(), strategy="replace")[1]["success"] is True
    assert all(not records for records in standin.store.values())
    assert standin.audit_rows == 2


def test_access_logs_travel_with_their_memory(standin):
    first = data(
        memories=[memory("m1")],
        accessLogs=[
            {"memoryId": "m1", "count": 2, "recent": [1, 2, "x"], "extra": True},
            {"memoryId": "m-elsewhere", "count": 5},
            {"count": 1},
        ],
    )
    assert post(standin, first)[1]["success"] is True
    assert standin.store["accessLogs"] == {
        "m1": {"memoryId": "m1", "count": 2, "lastAt": "", "recent": [1, 2]}
    }
    # the memory is already on the server, but not in this request: the log is dropped
    second = data(memories=[memory("m2")], accessLogs=[{"memoryId": "m1", "count": 9}])
    assert post(standin, second)[1]["success"] is True
    assert standin.store["accessLogs"]["m1"]["count"] == 2


def test_a_record_without_its_key_is_a_500_after_the_writes_before_it(standin):
    status, answer = post(standin, data(sessions=[session("s1")], memories=[{"title": "no id"}]))
    assert status == 500 and "no id" in answer["error"]
    assert set(standin.store["sessions"]) == {"s1"} and standin.audit_rows == 0
    assert standin.imports[0]["success"] is False


def test_a_handler_error_is_a_500_and_the_server_keeps_serving(standin):
    url = urlsplit(standin.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"POST /agentmemory/import HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 500 ")
    assert call(standin, "GET", "/agentmemory/livez")[0] == 200


# -- the frame limit -------------------------------------------------------------------------


def test_a_body_over_the_frame_never_reaches_the_importer():
    with running(frame_limit=2_000, not_found_after_drop=2) as s:
        big = data(memories=[memory(f"m{i}", content="x" * 100) for i in range(30)])
        assert post(s, big) == (500, {"error": "Invocation stopped"})
        small = data(memories=[memory("m1")])
        not_found = (404, {"error": "Function api::import not found"})
        assert post(s, small) == not_found
        assert call(s, "GET", "/agentmemory/health")[0] == 200  # only the import function
        assert post(s, small) == not_found
        assert post(s, small)[1]["success"] is True
        assert set(s.store["memories"]) == {"m1"}
        assert len(s.imports) == 1 and s.audit_rows == 1
        assert [r["status"] for r in s.requests] == [500, 404, 200, 404, 200]
        assert s.requests[0]["bytes"] > 2_000


# -- export and the list endpoints -----------------------------------------------------------


def _five_sessions(standin: StandIn) -> None:
    standin.seed(
        data(
            sessions=[session(f"s{i}", project=f"p{i % 2}") for i in (3, 1, 4, 0, 2)],
            observations={f"s{i}": [obs(f"o{i}", f"s{i}")] for i in range(5) if i != 2},
            memories=[memory("m1", isLatest=True), memory("m2")],
            summaries=[{"sessionId": "s1"}],
            profiles=[{"project": "p0"}, {"project": "p1"}],
            lessons=[{"id": "l1"}],
        )
    )


def test_export_pages_sessions_and_repeats_the_rest(standin):
    _five_sessions(standin)
    status, page = call(standin, "GET", "/agentmemory/export?maxSessions=2&offset=2")
    assert status == 200
    assert page["version"] == "0.9.29" and page["exportedAt"].endswith("Z")
    assert [s["id"] for s in page["sessions"]] == ["s2", "s3"]
    assert list(page["observations"]) == ["s3"]  # s2 has none
    assert [p["project"] for p in page["profiles"]] == ["p0", "p1"]
    assert [m["id"] for m in page["memories"]] == ["m1", "m2"]
    assert page["summaries"] == [{"sessionId": "s1"}] and page["lessons"] == [{"id": "l1"}]
    assert page["pagination"] == {"offset": 2, "limit": 2, "total": 5, "hasMore": True}

    last = call(standin, "GET", "/agentmemory/export?maxSessions=2&offset=4")[1]
    assert [s["id"] for s in last["sessions"]] == ["s4"]
    assert [p["project"] for p in last["profiles"]] == ["p0"]
    assert last["pagination"]["hasMore"] is False and len(last["memories"]) == 2

    whole = call(standin, "GET", "/agentmemory/export")[1]
    assert len(whole["sessions"]) == 5 and "pagination" not in whole
    capped = call(standin, "GET", "/agentmemory/export?maxSessions=5000")[1]
    assert capped["pagination"]["limit"] == 1000
    assert whole["sessions"] == standin.export_json()["sessions"]


def test_an_export_over_the_limit_is_refused_as_oversized():
    with running(export_limit=3_000) as s:
        s.seed(data(sessions=[session(f"s{i}") for i in range(60)]))
        status, answer = call(s, "GET", "/agentmemory/export")
        assert status == 200
        assert answer["success"] is False and answer["oversized"] is True
        assert answer["bytes"] > 3_000 and answer["limitBytes"] == 3_000
        assert "maxSessions" in answer["error"]
        page = call(s, "GET", "/agentmemory/export?maxSessions=10")[1]
        assert len(page["sessions"]) == 10


def test_the_count_and_list_endpoints(standin):
    _five_sessions(standin)
    assert call(standin, "GET", "/agentmemory/memories?count=true") == (
        200,
        {"total": 2, "latestCount": 1},
    )
    memories = call(standin, "GET", "/agentmemory/memories")[1]
    assert [m["id"] for m in memories["memories"]] == ["m1", "m2"] and memories["total"] == 2
    sliced = call(standin, "GET", "/agentmemory/memories?limit=1&offset=1")[1]
    assert [m["id"] for m in sliced["memories"]] == ["m2"]
    sessions = call(standin, "GET", "/agentmemory/sessions")[1]["sessions"]
    assert [s["id"] for s in sessions] == ["s0", "s1", "s2", "s3", "s4"]
    observations = call(standin, "GET", "/agentmemory/observations?sessionId=s3")[1]
    assert observations == {"observations": [standin.store["observations"][("s3", "o3")]]}
    assert call(standin, "GET", "/agentmemory/observations?sessionId=s2")[1] == {"observations": []}
    assert call(standin, "GET", "/agentmemory/observations") == (
        400,
        {"error": "sessionId required"},
    )


# -- faults ----------------------------------------------------------------------------------


def test_500_after_a_partial_write(standin):
    standin.fail_request(2, "500-after-partial-write", write_fraction=0.4)
    assert post(standin, data(memories=[memory("first")]))[1]["success"] is True
    ten = data(memories=[memory(f"m{i}") for i in range(10)])
    assert post(standin, ten) == (500, {"error": "Invocation stopped"})
    assert set(standin.store["memories"]) == {"first", "m0", "m1", "m2", "m3"}
    assert [i["success"] for i in standin.imports] == [True, False]
    assert standin.audit_rows == 1
    assert post(standin, ten)[1]["memories"] == 10  # the retry is whole


def test_a_dropped_connection_writes_nothing(standin):
    standin.fail_request(1, "drop")
    with pytest.raises(DROPPED):
        post(standin, data(memories=[memory("m1")]))
    assert standin.store["memories"] == {} and standin.imports == []
    assert standin.requests[-1]["status"] is None
    assert post(standin, data(memories=[memory("m1")]))[1]["success"] is True


def test_a_drop_after_the_write(standin):
    standin.fail_request(1, "drop-after-write")
    with pytest.raises(DROPPED):
        post(standin, data(memories=[memory("m1")]))
    assert set(standin.store["memories"]) == {"m1"}
    assert standin.imports[0]["success"] is True and standin.audit_rows == 1


def test_a_slow_answer():
    with running(delay=0.3) as s:
        s.fail_request(1, "timeout")
        with pytest.raises(TimeoutError):
            post(s, data(memories=[memory("m1")]), timeout=0.05)
    with running(delay=0.05) as s:
        s.fail_request(1, "timeout")
        assert post(s, data(memories=[memory("m1")]))[1]["success"] is True


def test_a_404_fault_and_every_kth_request(standin):
    not_found = (404, {"error": "Function api::import not found"})
    standin.fail_request(1, "404")
    assert post(standin, data(memories=[memory("m0")])) == not_found
    assert standin.store["memories"] == {}
    standin.fail_every(2, "404")
    outcomes = [post(standin, data(memories=[memory(f"m{i}")]))[0] for i in range(1, 5)]
    assert outcomes == [200, 404, 200, 404]
    standin.clear_faults()
    assert post(standin, data(memories=[memory("m5")]))[0] == 200
    assert set(standin.store["memories"]) == {"m1", "m3", "m5"}


def test_faults_are_checked_when_set(standin):
    for bad in (lambda: standin.fail_request(1, "explode"), lambda: standin.fail_every(0, "404")):
        with pytest.raises(ValueError):
            bad()
    assert set(FAULT_KINDS) == {
        "500-after-partial-write",
        "drop",
        "drop-after-write",
        "timeout",
        "404",
    }


def test_auth_failures_do_not_count_as_import_requests():
    with running(secret="k") as s:
        s.fail_request(1, "404")
        assert post(s, data(), token="bad")[0] == 401
        assert post(s, data(), token="k")[0] == 404
        assert post(s, data(), token="k")[0] == 200


# -- life cycle ------------------------------------------------------------------------------


def test_stop_closes_the_port():
    s = StandIn().start()
    url = urlsplit(s.url)
    assert url.hostname == "127.0.0.1" and url.port
    s.stop()
    s.stop()  # twice is harmless
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((url.hostname, url.port), timeout=1).close()
