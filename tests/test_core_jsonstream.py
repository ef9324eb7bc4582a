"""The streaming JSON reader gives what json.loads gives, and refuses what FORMATS.md 7 refuses,
whichever way a value is read: a small array in one C call, or element by element."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wizard.core import jsonstream
from wizard.core.jsonstream import JsonStream, _levels
from wizard.core.problems import InputRefused


def read(text: str, chunk: int = 1 << 20, **limits) -> list:
    chunks = iter([text[i : i + chunk] for i in range(0, len(text), chunk)])
    return [value for value, _line in JsonStream(chunks, **limits).values()]


def refusal(text: str, chunk: int = 1 << 20, **limits):
    with pytest.raises(InputRefused) as info:
        read(text, chunk, **limits)
    return info.value.problem


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


tricky_text = st.text(alphabet='"\\[]{}ab \n\u00e9\u4e2d', max_size=8)
numbers = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | numbers | tricky_text
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    buckets=st.dictionaries(tricky_text, st.lists(values, max_size=6), max_size=5),
    top=st.lists(values, max_size=4),
    chunk=st.sampled_from([1, 7, 64, 4096]),
    indent=st.sampled_from([None, 1]),
    ascii_only=st.booleans(),
)
def test_reads_what_json_loads_reads(buckets, top, chunk, indent, ascii_only):
    document = {"version": "0.9.5", "sessions": top, "observations": buckets}
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)
    assert read(text, chunk) == [json.loads(text)]


@settings(max_examples=300, deadline=None)
@given(value=values, ascii_only=st.booleans())
def test_levels_counts_the_nesting_of_any_text(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _levels(text, 1000) == depth_of(value)


def test_levels_stops_counting_past_the_limit():
    assert _levels("[" * 5000 + "]" * 5000, 10) == 11


def bucket_document(records: list) -> str:
    """Compact, so the bucket is small enough to be read in one call; one record per line."""
    lines = ",\n".join(json.dumps(r, separators=(",", ":")) for r in records)
    return '{"version":"0.9.5","observations":{"s":[\n' + lines + "\n]}}"


def plain(i: int) -> dict:
    return {"id": f"o{i}", "facts": ["a"], "concepts": ["b"], "files": ["c"]}


# Inside a bucket (depth 2) a record may nest 197 levels: 200 less the top object, the
# observations object and the bucket array. 100 records with 3 lists each have more brackets
# than that, so the cheap bound fails and the exact count decides.
@pytest.mark.parametrize("levels, refused", [(197, False), (198, True)])
def test_depth_limit_holds_inside_a_small_bucket(levels, refused):
    records = [plain(i) for i in range(100)]
    records[60] = {"id": "deep", "x": nested(levels - 1)}
    text = bucket_document(records)
    if refused:
        problem = refusal(text)
        assert "nesting deeper than 200" in problem.message
        assert problem.line == 62  # the line of record 60
    else:
        (document,) = read(text)
        assert document["observations"]["s"][60]["x"] == nested(levels - 1)


def test_nan_in_a_small_bucket_is_refused_at_its_place():
    records = [plain(i) for i in range(10)]
    text = bucket_document(records).replace('"o7"', "NaN")
    problem = refusal(text)
    assert "NaN is not valid JSON" in problem.message
    assert (problem.line, problem.column) == (9, 7)


def test_syntax_error_in_a_small_bucket_is_located():
    text = bucket_document([plain(i) for i in range(10)]).replace('"o4",', '"o4",,')
    problem = refusal(text)
    assert problem.message.startswith("malformed JSON")
    assert problem.line == 6


def test_string_limit_holds_in_a_small_array():
    text = json.dumps({"observations": {"s": [{"id": "a", "t": "x" * 300}]}})
    assert "longer than" in refusal(text, max_string=200).message
    assert read(text, max_string=400) == [json.loads(text)]


def test_big_arrays_are_streamed_and_small_ones_after_them_still_read(monkeypatch):
    calls = []
    original = jsonstream.JsonStream._small_array

    def spy(self, depth, parent):
        result = original(self, depth, parent)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(jsonstream.JsonStream, "_small_array", spy)
    big = [plain(i) for i in range(6000)]  # over SMALL_MAX of text: read element by element
    buckets = {f"b{i}": [plain(i)] for i in range(40)}
    document = {"version": "0.9.5", "sessions": big, "observations": buckets}
    text = json.dumps(document, separators=(",", ":"))
    assert len(json.dumps(big)) > jsonstream.SMALL_MAX
    assert read(text, chunk=50_000) == [document]
    assert calls[0] is False  # the big array
    assert sum(calls) >= 30  # most buckets in one call each (a few pause after the big one)
