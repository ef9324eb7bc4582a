"""Property tests: the schema round trip is lossless; mutated real samples never crash the
reader, detector or validator (they give a report or a clean refusal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from wizard.core.inspection import inspect_file
from wizard.core.schema import RECORD_MODELS, ExportData, Record, _checked, validate_records

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLES = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*") if p.is_file())
TEXT_SAMPLES = [s for s in SAMPLES if not s.endswith(".zip")]
PROFILE = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

text = st.text(max_size=12)
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | text
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
extra_fields = st.dictionaries(
    st.text(min_size=1, max_size=8).map(lambda s: "x_" + s), json_value, max_size=3
)
words = st.lists(text, max_size=3)
timestamp = st.sampled_from(["2026-01-01T00:00:00.000Z", "2025-08-27T13:59:46.727Z"])


def record(required: dict, optional: dict):
    return st.fixed_dictionaries(required, optional=optional).flatmap(
        lambda base: extra_fields.map(lambda extra: {**extra, **base})
    )


sessions = record(
    {"id": text},
    {
        "project": text,
        "cwd": text,
        "startedAt": timestamp,
        "status": st.sampled_from(["active", "completed"]),
        "observationCount": st.integers(0, 99),
        "tags": words,
    },
)
observations = record(
    {"id": text},
    {
        "sessionId": text,
        "timestamp": timestamp,
        "type": st.just("conversation"),
        "title": text,
        "facts": words,
        "narrative": text,
        "importance": st.integers(1, 10),
        "origin": st.fixed_dictionaries({"channel": text}),
    },
)
memories = record(
    {"id": text},
    {
        "createdAt": timestamp,
        "type": st.just("fact"),
        "title": text,
        "content": text,
        "sessionIds": words,
        "strength": st.floats(0, 1),
        "version": st.integers(1, 5),
        "isLatest": st.booleans(),
    },
)
summaries = record(
    {"sessionId": text},
    {"title": text, "keyDecisions": words, "observationCount": st.integers(0, 9)},
)
nodes = record(
    {"id": text},
    {"type": text, "name": text, "properties": st.dictionaries(text, json_value, max_size=2)},
)
export_data = st.fixed_dictionaries(
    {
        "version": st.just("0.9.5"),
        "exportedAt": timestamp,
        "sessions": st.lists(sessions, max_size=3),
        "observations": st.dictionaries(text, st.lists(observations, max_size=3), max_size=2),
        "memories": st.lists(memories, max_size=3),
        "summaries": st.lists(summaries, max_size=2),
    },
    optional={
        "graphNodes": st.lists(nodes, max_size=2),
        "lessons": st.lists(record({"id": text}, {}), max_size=2),
    },
)


@given(export_data)
@settings(max_examples=150, deadline=None)
def test_export_data_round_trip_is_lossless(data):
    dumped = ExportData.model_validate(data).model_dump(mode="json", exclude_unset=True)
    assert json.dumps(dumped, sort_keys=True) == json.dumps(data, sort_keys=True)


def _assert_clean(inspection):
    report = inspection.report
    if not report.ok:
        assert report.errors
        assert not any("could not be converted" in e.message for e in report.errors), report.errors[
            0
        ].message


@given(
    sample=st.sampled_from(SAMPLES),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "delete", "insert", "truncate"]),
            st.floats(0, 1),
            st.binary(min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=4,
    ),
)
@PROFILE
def test_byte_mutations_never_crash(tmp_path, sample, edits):
    data = bytearray((FIXTURES / sample).read_bytes())
    for op, where, payload in edits:
        if not data:
            break
        i = int(where * (len(data) - 1))
        if op == "flip":
            data[i] ^= payload[0] or 1
        elif op == "delete":
            del data[i : i + len(payload)]
        elif op == "insert":
            data[i:i] = payload
        else:
            del data[i:]
    path = tmp_path / Path(sample).name
    path.write_bytes(bytes(data))
    _assert_clean(inspect_file(path))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in list(value.items())[:30]:
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:5]):
            yield from _paths(v, (*prefix, i))


@given(sample=st.sampled_from(TEXT_SAMPLES), choice=st.floats(0, 1), new=json_value)
@PROFILE
def test_structural_mutations_never_crash(tmp_path, sample, choice, new):
    raw = (FIXTURES / sample).read_text(encoding="utf-8")
    if sample.endswith(".jsonl"):
        doc = [json.loads(line) for line in raw.splitlines() if line.strip()]
    else:
        doc = json.loads(raw)
        if isinstance(doc, str):
            doc = json.loads(doc)
    paths = list(_paths(doc))
    path = paths[int(choice * (len(paths) - 1))]
    if not path:
        doc = new
    else:
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = new
    target = tmp_path / Path(sample).name
    target.write_text(json.dumps(doc), encoding="utf-8")
    _assert_clean(inspect_file(target))


bad_fields = st.dictionaries(
    st.sampled_from(
        [
            "id",
            "sessionId",
            "memoryId",
            "project",
            "origin",
            "facts",
            "importance",
            "isLatest",
            "supersedes",
            "tags",
            "properties",
            "weight",
            "offset",
        ]
    ),
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=3)
    | st.lists(st.integers() | st.text(max_size=2), max_size=2)
    | st.fixed_dictionaries({}, optional={"channel": st.integers() | st.text(max_size=2)}),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(RECORD_MODELS)),
    records=st.lists(bad_fields | st.none() | st.text(max_size=2), max_size=4),
)
def test_validation_reports_what_the_record_models_report(name, records):
    """validate_records checks TypedDicts derived from the models: the same problems."""
    try:
        TypeAdapter(list[RECORD_MODELS[name]]).validate_python(records)
        expected = []
    except ValidationError as exc:
        expected = [(e["loc"], e["type"].replace("model_type", "dict_type")) for e in exc.errors()]
    try:
        TypeAdapter(list[_checked(RECORD_MODELS[name])]).validate_python(records)
        got = []
    except ValidationError as exc:
        got = [(e["loc"], e["type"]) for e in exc.errors()]
    assert got == expected
    assert [p[0] for p in validate_records(name, records)] == [
        loc[0] if loc and isinstance(loc[0], int) else -1 for loc, _ in expected
    ]


def test_a_model_whose_checks_a_typeddict_would_drop_is_refused():
    class Constrained(Record):
        id: str = Field(min_length=1)

    with pytest.raises(TypeError, match="would not apply all its checks"):
        _checked(Constrained)
