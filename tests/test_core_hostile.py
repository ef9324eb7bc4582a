"""Broken and hostile inputs (FORMATS.md section 7) are refused with what and where."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
import zlib
from pathlib import Path

import pytest

from wizard.core.caps import check_caps
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.reading import Limits, read_payload

FIXTURES = Path(__file__).parent / "fixtures"
GOOD = {"version": "0.9.5", "sessions": [], "observations": {}, "memories": [], "summaries": []}


def refused(path, options=None):
    report = inspect_file(path, options).report
    assert not report.ok
    assert report.errors, "a refusal must say why"
    return report.errors[0]


def write(tmp_path, content, name="f.json"):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"   \n\t  ", "whitespace"),
        (b"\x00\x01\x02binary\xff\xfe", "binary"),
        (b'{"version": "0.9.5", "sessions": ["\xff\xfe"]}', "UTF-8"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        (b'{"version": "0.9.5", "sessions": [', "malformed JSON"),
        (b'{"version": "0.9.5", "sessions": []} trailing', "extra data"),
        (b'{"version": "0.9.5", "sessions": [], "x": NaN}', "NaN"),
        (b'{"version": "0.9.5", "sessions": [{"id": "a", "w": Infinity}]}', "Infinity"),
        (b'[{"a": 1}, 2, "x"]', "no supported format"),
        (b'{"hello": "world"}', "no supported format"),
    ],
)
def test_refused_with_clear_message(tmp_path, content, expected):
    problem = refused(write(tmp_path, content))
    assert expected.lower() in problem.message.lower()


def test_syntax_error_has_line_and_column(tmp_path):
    text = '{\n  "version": "0.9.5",\n  "sessions": [\n    {"id": "a",}\n  ]\n}'
    problem = refused(write(tmp_path, text))
    assert (problem.line, problem.column) == (4, 16)


def test_bom_is_accepted(tmp_path):
    p = write(tmp_path, b"\xef\xbb\xbf" + json.dumps(GOOD).encode())
    assert inspect_file(p).ok


def test_deep_nesting_refused(tmp_path):
    deep = '{"version": "0.9.5", "sessions": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    problem = refused(write(tmp_path, deep))
    assert "nesting deeper than 200" in problem.message
    assert problem.line == 1


def test_nesting_just_under_the_limit_is_read(tmp_path):
    nested: list = [1]
    for _ in range(150):
        nested = [nested]
    value = {"version": "0.9.5", "sessions": [{"id": "s", "extra": nested}], "memories": []}
    assert inspect_file(write(tmp_path, json.dumps(value))).ok


def test_huge_string_refused_without_reading_everything(tmp_path):
    p = tmp_path / "big.json"
    with open(p, "w") as f:
        f.write('{"version": "0.9.5", "sessions": [{"id": "')
        for _ in range(64):
            f.write("x" * 1024 * 1024)
        f.write('"}]}')
    problem = refused(p)
    assert "longer than 10 MB" in problem.message


def test_gzip_bomb_stops_at_the_limit(tmp_path):
    p = tmp_path / "bomb.json.gz"
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b" " * (1024 * 1024)
    with open(p, "wb") as f:
        f.write(compressor.compress(b'{"version": "0.9.5", "sessions": ['))
        for _ in range(1024):  # 1 GB of spaces, about 1 MB compressed
            f.write(compressor.compress(zeros))
        f.write(compressor.compress(b"]}") + compressor.flush())
    assert p.stat().st_size < 5 * 1024 * 1024
    problem = refused(p)
    assert "compression bomb" in problem.message


def test_gzip_of_a_sample_is_read(tmp_path):
    raw = (FIXTURES / "agentmemory/agentmemory-0.9.5-small.json").read_bytes()
    p = write(tmp_path, gzip.compress(raw), "x.json.gz")
    inspection = inspect_file(p)
    assert inspection.ok and inspection.report.counts["observations"] == 500


def _zip(tmp_path, members, name="backup.zip"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return write(tmp_path, buf.getvalue(), name)


def test_zip_without_memories_json(tmp_path):
    problem = refused(_zip(tmp_path, {"notes.txt": "hello"}))
    assert "without memories.json" in problem.message


def test_zip_slip_member_refused(tmp_path):
    problem = refused(_zip(tmp_path, {"../../etc/memories.json": "{}"}))
    assert "unsafe path" in problem.message


def test_zip_bomb_member_refused(tmp_path):
    problem = refused(_zip(tmp_path, {"memories.json": b" " * (40 * 1024 * 1024)}))
    assert "zip bomb" in problem.message


def test_jsonl_with_one_broken_line(tmp_path):
    lines = (FIXTURES / "agentmemory/agentmemory-0.9.20-paginated.jsonl").read_text().splitlines()
    lines[1] = lines[1][:-40]
    problem = refused(write(tmp_path, "\n".join(lines), "p.jsonl"))
    assert "malformed JSON" in problem.message
    assert "JSON Lines record that starts on line 2" in problem.message


def test_double_encoded_with_broken_inner_json(tmp_path):
    inner = '{"agents": [{"name": "x",}], "blocks": []}'
    problem = refused(write(tmp_path, json.dumps(inner), "a.af"))
    assert "one JSON string" in problem.message and "line 1" in problem.message


@pytest.mark.parametrize("version", [None, "1.0.0", "0.7.8", 7])
def test_unsupported_version_refused_naming_it(tmp_path, version):
    data = dict(GOOD)
    if version is None:
        data.pop("version")
    else:
        data["version"] = version
    problem = refused(write(tmp_path, json.dumps(data)))
    assert problem.path == "version"
    assert "0.3.0" in problem.message and "0.9.29" in problem.message
    if version is not None:
        assert repr(version) in problem.message


def test_treat_as_version_is_an_explicit_choice(tmp_path):
    data = dict(GOOD, version="2.0.0")
    p = write(tmp_path, json.dumps(data))
    report = inspect_file(p, InspectOptions(treat_as_version="0.9.5")).report
    assert report.ok and report.treated_as_version == "0.9.5"
    assert any("as chosen" in w.message for w in report.warnings)


@pytest.mark.parametrize("collection", ["sessions", "memories", "summaries"])
def test_collection_must_be_an_array(tmp_path, collection):
    data = dict(GOOD, **{collection: {"a": 1}})
    problem = refused(write(tmp_path, json.dumps(data)))
    assert problem.path == collection and "must be an array" in problem.message


def test_observations_must_be_object_of_arrays(tmp_path):
    problem = refused(write(tmp_path, json.dumps(dict(GOOD, observations=[]))))
    assert problem.path == "observations"
    problem = refused(write(tmp_path, json.dumps(dict(GOOD, observations={"s1": {}}))))
    assert problem.path == "observations.s1"


def test_every_invalid_record_is_listed_with_its_path(tmp_path):
    data = dict(
        GOOD,
        sessions=[{"id": "s1"}, {"project": "no id"}, {"id": 5}],
        memories=[{"id": "m1", "title": ["not", "text"]}],
        observations={"s1": [{"id": "o1"}, {"id": "o2", "facts": "not a list"}]},
    )
    report = inspect_file(write(tmp_path, json.dumps(data))).report
    paths = {p.path: p.message for p in report.errors}
    assert set(paths) == {"sessions[1]", "sessions[2]", "memories[0]", "observations.s1[1]"}
    assert "id" in paths["sessions[1]"] and "missing" in paths["sessions[1]"]


def test_skip_invalid_imports_only_the_valid_ones(tmp_path):
    data = dict(GOOD, sessions=[{"id": "s1"}, {"project": "no id"}])
    inspection = inspect_file(write(tmp_path, json.dumps(data)), InspectOptions(skip_invalid=True))
    assert inspection.ok
    assert inspection.report.skipped_invalid == ["sessions[1]"]
    assert inspection.data["sessions"] == [{"id": "s1"}]


def test_every_cap_is_reported():
    one = {"id": "x"}
    data = {
        "sessions": [one] * 10_001,
        "memories": [one] * 50_001,
        "summaries": [one] * 10_001,
        "observations": {f"s{i}": [one] * (5_001 if i == 0 else 50) for i in range(10_001)},
        "accessLogs": [one] * 50_001,
    }
    caps = {c.name: c for c in check_caps(data)}
    assert len(caps) == 7 and not any(c.ok for c in caps.values())
    assert caps["observations"].count == 5_001 + 10_000 * 50
    assert caps["sessions"].message == "Too many sessions (max 10000)"
    assert caps["observationsPerSession"].detail == "largest: session s0"


def test_over_a_cap_refuses_the_file(tmp_path):
    data = dict(GOOD, sessions=[{"id": f"s{i}"} for i in range(10_001)])
    report = inspect_file(write(tmp_path, json.dumps(data))).report
    assert not report.ok
    assert any(e.message.startswith("Too many sessions (max 10000)") for e in report.errors)


def test_size_limit_is_a_setting(tmp_path):
    p = write(tmp_path, json.dumps(GOOD))
    with pytest.raises(Exception, match="files up to"):
        read_payload(p, Limits(max_bytes=10))
    assert inspect_file(p, InspectOptions(max_bytes=10**6)).ok


def test_duplicate_keys_and_unknown_values_are_warnings(tmp_path):
    data = dict(
        GOOD,
        sessions=[{"id": "s1", "status": "paused"}, {"id": "s1"}, {"id": "s2", "status": "paused"}],
        observations={
            "s1": [{"id": "o1", "type": "conversation"}, {"id": "o2", "type": "hologram"}]
        },
    )
    report = inspect_file(write(tmp_path, json.dumps(data))).report
    assert report.ok
    messages = {w.path: w.message for w in report.warnings}
    assert messages["sessions"].startswith("1 records repeat the id")
    assert messages["sessions[*].status"].startswith("2 records have status 'paused'")
    assert messages["observations[*].type"].startswith("1 records have type 'hologram'")


def _pages(tmp_path, versions):
    lines = (FIXTURES / "agentmemory/agentmemory-0.9.20-paginated.jsonl").read_text().splitlines()
    pages = [json.loads(line) for line in lines]
    for page, version in zip(pages, versions, strict=False):
        if version is None:
            page.pop("version")
        else:
            page["version"] = version
    return write(tmp_path, "\n".join(json.dumps(p) for p in pages), "p.jsonl")


@pytest.mark.parametrize("versions", [("0.9.20", "9.9.9"), (None, "0.9.20"), ("0.9.20", None)])
def test_every_page_of_a_paginated_file_needs_a_supported_version(tmp_path, versions):
    problem = refused(_pages(tmp_path, versions))
    assert problem.path == "version"


def test_cancel_while_reading_is_not_a_refusal(tmp_path):
    from wizard.core.problems import Cancelled

    raw = (FIXTURES / "agentmemory/agentmemory-0.9.5-small.json").read_text()
    big = json.loads(raw)
    big["memories"] = big["memories"] * 100  # enough records for a cancel check
    path = write(tmp_path, json.dumps(big))
    with pytest.raises(Cancelled):
        inspect_file(path, cancel=lambda: True)


def test_small_zip_member_over_the_ratio_is_refused(tmp_path):
    problem = refused(_zip(tmp_path, {"memories.json": b" " * (5 * 1024 * 1024)}))
    assert "zip bomb" in problem.message


def test_access_log_cap_counts_the_file_as_read(tmp_path):
    data = dict(
        GOOD,
        memories=[{"id": "m1"}],
        accessLogs=[{"memoryId": "m1"}] * 50_000 + [{"memoryId": "elsewhere"}],
    )
    report = inspect_file(write(tmp_path, json.dumps(data))).report
    cap = next(c for c in report.caps if c.name == "accessLogs")
    assert cap.count == 50_001 and not cap.ok and not report.ok


def test_top_level_fields_that_are_not_collections_are_reported(tmp_path):
    report = inspect_file(write(tmp_path, json.dumps(dict(GOOD, settings={"a": 1})))).report
    assert report.ok
    assert any(w.path == "settings" and "not imported" in w.message for w in report.warnings)


def test_huge_integer_literal_is_refused_with_its_place(tmp_path):
    text = '{"version": "0.9.5", "sessions": [{"id": "s", "n": ' + "9" * 5000 + "}]}"
    problem = refused(write(tmp_path, text))
    assert problem.line == 1 and "cannot be read" in problem.message


def test_a_repeated_key_keeps_only_the_last_record(tmp_path):
    data = dict(
        GOOD,
        memories=[{"id": "m1", "content": "first"}, {"id": "m2"}, {"id": "m1", "content": "last"}],
        observations={"a": [{"id": "o1", "title": "early"}], "b": [{"id": "o1", "title": "late"}]},
    )
    inspection = inspect_file(write(tmp_path, json.dumps(data)))
    assert inspection.ok
    assert inspection.data["memories"] == [{"id": "m2"}, {"id": "m1", "content": "last"}]
    assert inspection.data["observations"] == {"a": [], "b": [{"id": "o1", "title": "late"}]}
    assert inspection.report.counts["memories"] == 2


def test_skip_invalid_with_repeated_keys_removes_the_invalid_records(tmp_path):
    data = dict(
        GOOD,
        memories=[
            {"id": "A", "title": "first"},
            {"id": "A", "title": "second"},
            {"id": "B", "title": 5},
            {"id": "D", "title": "d"},
        ],
        observations={"s1": [{"id": "o1"}, {"id": "o1"}, {"id": "o2", "title": 7}, {"id": "o3"}]},
    )
    inspection = inspect_file(write(tmp_path, json.dumps(data)), InspectOptions(skip_invalid=True))
    assert inspection.ok
    assert inspection.report.skipped_invalid == ["memories[2]", "observations.s1[2]"]
    assert inspection.data["memories"] == [
        {"id": "A", "title": "second"},
        {"id": "D", "title": "d"},
    ]
    assert inspection.data["observations"] == {"s1": [{"id": "o1"}, {"id": "o3"}]}


def test_the_last_valid_record_of_a_key_wins(tmp_path):
    data = dict(GOOD, memories=[{"id": "A", "title": "ok"}, {"id": "A", "title": 5}])
    inspection = inspect_file(write(tmp_path, json.dumps(data)), InspectOptions(skip_invalid=True))
    assert inspection.data["memories"] == [{"id": "A", "title": "ok"}]


def test_a_repeated_key_inside_a_twice_encoded_file_is_still_a_warning(tmp_path):
    inner = json.dumps(GOOD)[:-1] + ', "version": "0.9.5"}'  # "version" twice
    payload = read_payload(write(tmp_path, json.dumps(inner)))
    assert payload.unwrapped
    assert [w.code for w in payload.warnings] == ["duplicate-json-key"]
