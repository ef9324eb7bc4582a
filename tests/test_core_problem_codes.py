"""Every problem carries a stable machine code (``wizard.core.problems.Code``): the shells decide
by code, never by message text."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from fuzz.hostile import build

from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.problems import Code, InputRefused, Problem

FIXTURES = Path(__file__).parent / "fixtures"
WIZARD = Path(__file__).resolve().parents[1] / "wizard"
GOOD = {"version": "0.9.5", "sessions": [], "observations": {}, "memories": [], "summaries": []}
VALUES = {c.value for c in Code}


def write(tmp_path: Path, content: bytes | str | dict, name: str = "f.json") -> Path:
    if isinstance(content, dict):
        content = json.dumps(content)
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return p


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return buf.getvalue()


def codes(problems: list[Problem]) -> list[Code]:
    return [p.code for p in problems]


def first_error(path: Path, options: InspectOptions | None = None) -> Problem:
    report = inspect_file(path, options).report
    assert not report.ok and report.errors
    return report.errors[0]


# -- the codes themselves --------------------------------------------------------------------------
def test_codes_are_kebab_case_strings_and_print_as_their_value():
    assert len(VALUES) == len(Code)
    for code in Code:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code.value), code
        assert str(code) == code.value == f"{code}"
        assert Code(code.value) is code
    assert "cancelled" not in VALUES  # cancelling is not a problem of the file


def test_code_is_required_and_keyword_only():
    with pytest.raises(TypeError):
        Problem("path", "message")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Problem("path", "message", 1, 2, Code.SYNTAX_ERROR)  # type: ignore[misc]
    with pytest.raises(TypeError):
        InputRefused("message")  # type: ignore[call-arg]
    p = Problem("memories[0]", "bad", 3, 4, code=Code.SYNTAX_ERROR)
    assert (p.path, p.message, p.line, p.column) == ("memories[0]", "bad", 3, 4)
    assert InputRefused("no", "here", code=Code.WRONG_SHAPE).problem == Problem(
        "here", "no", code=Code.WRONG_SHAPE
    )


def test_to_dict_puts_the_code_first_and_text_output_is_unchanged():
    p = Problem("version", "no version", code=Code.VERSION_MISSING)
    assert p.to_dict() == {"code": "version-missing", "path": "version", "message": "no version"}
    assert next(iter(p.to_dict())) == "code"
    assert str(p) == "version: no version"
    q = Problem("", "malformed", 2, 7, code=Code.SYNTAX_ERROR)
    assert q.to_dict() == {
        "code": "syntax-error",
        "path": "",
        "message": "malformed",
        "line": 2,
        "column": 7,
    }
    assert json.loads(json.dumps(q.to_dict()))["code"] == "syntax-error"


def test_every_code_is_used_in_the_source():
    source = "\n".join(p.read_text(encoding="utf-8") for p in WIZARD.rglob("*.py"))
    unused = [c.name for c in Code if not re.search(rf"\bCode\.{c.name}\b", source)]
    assert unused == []


# -- size limit ------------------------------------------------------------------------------------
def test_a_file_over_the_size_limit_is_size_limit(tmp_path):
    problem = first_error(write(tmp_path, GOOD), InspectOptions(max_bytes=10))
    assert problem.code is Code.SIZE_LIMIT
    assert "are accepted" in problem.message
    assert "settings" not in problem.message  # advice belongs to the shell, by code


def test_a_gzip_expanding_over_the_size_limit_is_size_limit(tmp_path):
    padded = json.dumps(GOOD) + " " * 5000
    path = write(tmp_path, gzip.compress(padded.encode()), "f.json.gz")
    assert path.stat().st_size < 1000
    problem = first_error(path, InspectOptions(max_bytes=1000))
    assert problem.code is Code.SIZE_LIMIT
    assert "largest input accepted" in problem.message


def test_a_zip_member_over_the_size_limit_is_size_limit(tmp_path):
    member = (json.dumps(GOOD) + " " * 5000).encode()
    path = write(tmp_path, zipped({"memories.json": member}), "backup.zip")
    assert path.stat().st_size < 1000
    assert first_error(path, InspectOptions(max_bytes=1000)).code is Code.SIZE_LIMIT


def test_fixed_safety_limits_are_not_size_limit(tmp_path):
    bomb = write(tmp_path, zipped({"memories.json": b" " * (1024 * 1024)}), "bomb.zip")
    assert first_error(bomb).code is Code.COMPRESSION_BOMB
    deep = write(tmp_path, '{"version": "0.9.5", "sessions": [' + "[" * 300 + "]" * 300 + "]}")
    assert first_error(deep).code is Code.TOO_DEEP


# -- versions --------------------------------------------------------------------------------------
def test_agentmemory_without_a_version_is_version_missing(tmp_path):
    data = {k: v for k, v in GOOD.items() if k != "version"}
    report = inspect_file(write(tmp_path, data)).report
    assert codes(report.errors) == [Code.VERSION_MISSING]


def test_agentmemory_with_an_unknown_version_is_version_unsupported(tmp_path):
    report = inspect_file(write(tmp_path, dict(GOOD, version="9.9.9"))).report
    assert codes(report.errors) == [Code.VERSION_UNSUPPORTED]


def test_a_chosen_version_clears_the_version_error(tmp_path):
    path = write(tmp_path, dict(GOOD, version="9.9.9"))
    report = inspect_file(path, InspectOptions(treat_as_version="0.9.5")).report
    assert report.ok and not report.errors
    assert codes(report.warnings) == [Code.VERSION_OVERRIDDEN]


def test_a_later_page_without_a_version_is_version_missing(tmp_path):
    first = json.dumps(GOOD)
    second = json.dumps({k: v for k, v in GOOD.items() if k != "version"})
    report = inspect_file(write(tmp_path, f"{first}\n{second}\n", "pages.jsonl")).report
    assert codes(report.errors) == [Code.VERSION_MISSING]
    assert report.errors[0].path == "version"
    assert Code.CONVERSION_NOTE in codes(report.warnings)  # "2 pages merged in order"


def test_pages_with_different_versions_warn_version_mixed(tmp_path):
    lines = [json.dumps(GOOD), json.dumps(dict(GOOD, version="0.9.6"))]
    report = inspect_file(write(tmp_path, "\n".join(lines), "pages.jsonl")).report
    assert report.ok
    assert Code.VERSION_MIXED in codes(report.warnings)


# -- records ---------------------------------------------------------------------------------------
def test_one_invalid_record_is_exactly_one_invalid_record(tmp_path):
    data = dict(GOOD, sessions=[{"id": "s1"}, {"project": "no id"}])
    report = inspect_file(write(tmp_path, data)).report
    assert codes(report.errors) == [Code.INVALID_RECORD]
    assert report.errors[0].path == "sessions[1]"


def test_invalid_record_is_exactly_what_skip_invalid_leaves_out(tmp_path):
    data = dict(
        GOOD,
        sessions=[{"id": "s1"}, {"project": "no id"}, {"id": ""}],  # schema, then an empty key
        memories=[{"id": "A", "title": "a"}, {"id": "A", "title": "b"}, {"id": "B", "title": 5}],
        observations={"s1": [{"id": "o1"}, {"id": "o2", "facts": "not a list"}]},
        note="a top-level field that is not a collection",
    )
    path = write(tmp_path, data)
    report = inspect_file(path).report
    invalid = sorted(p.path for p in report.errors if p.code is Code.INVALID_RECORD)
    assert invalid == ["memories[2]", "observations.s1[1]", "sessions[1]", "sessions[2]"]
    assert all(p.code is Code.INVALID_RECORD for p in report.errors)
    assert {Code.DUPLICATE_KEY, Code.DATA_DROPPED} <= set(codes(report.warnings))

    skipped = inspect_file(path, InspectOptions(skip_invalid=True)).report
    assert skipped.ok
    assert sorted(skipped.skipped_invalid) == invalid
    assert Code.INVALID_RECORDS_SKIPPED in codes(skipped.warnings)
    assert Code.INVALID_RECORD not in codes(skipped.errors + skipped.warnings)


def test_a_record_an_adapter_cannot_convert_is_not_invalid_record(tmp_path):
    """mem0 items without an id are reported by the adapter: "import only the valid records"
    does not leave them out, so they are not INVALID_RECORD."""
    data = {"results": [{"id": "m1", "memory": "likes tea"}, {"memory": "no id"}]}
    path = write(tmp_path, data)
    report = inspect_file(path).report
    assert report.format == "mem0-oss"
    assert codes(report.errors) == [Code.UNCONVERTIBLE_RECORD]
    again = inspect_file(path, InspectOptions(skip_invalid=True)).report
    assert codes(again.errors) == [Code.UNCONVERTIBLE_RECORD] and not again.skipped_invalid


def test_over_a_cap_is_cap_exceeded(tmp_path):
    data = dict(GOOD, sessions=[{"id": f"s{i}"} for i in range(10_001)])
    report = inspect_file(write(tmp_path, data)).report
    assert codes(report.errors) == [Code.CAP_EXCEEDED]


# -- reading and JSON ------------------------------------------------------------------------------
def test_a_syntax_error_is_syntax_error_with_line_and_column(tmp_path):
    problem = first_error(write(tmp_path, '{"version": "0.9.5",\n "sessions": [}'))
    assert problem.code is Code.SYNTAX_ERROR
    assert (problem.line, problem.column) == (2, 15)
    assert problem.to_dict()["code"] == "syntax-error"


@pytest.mark.parametrize(
    "content, code",
    [
        (b"", Code.EMPTY_FILE),
        (b"  \n ", Code.EMPTY_FILE),
        (b"\x00\x01binary", Code.BINARY_FILE),
        (b'{"version": "caf\xe9"}', Code.NOT_UTF8),
        (b'{"version": "0.9.5", "sessions": [], "x": NaN}', Code.NAN_OR_INFINITY),
        (b'{"hello": "world"}', Code.UNKNOWN_FORMAT),
        (b'{"version": "0.9.5", "sessions": {}}', Code.WRONG_SHAPE),
    ],
)
def test_refusals_have_their_code(tmp_path, content, code):
    assert first_error(write(tmp_path, content)).code is code


def test_a_copied_problem_keeps_its_code(tmp_path):
    # A later JSON Lines record: the problem is rebuilt to say which record.
    jsonl = json.dumps(GOOD) + '\n{"version": "0.9.5", "x": NaN}\n'
    problem = first_error(write(tmp_path, jsonl, "pages.jsonl"))
    assert "JSON Lines record" in problem.message
    assert problem.code is Code.NAN_OR_INFINITY
    # A JSON string holding broken JSON: the inner problem is rebuilt without its place.
    twice = json.dumps('{"agents": [], "blocks": [' + "[" * 300 + "]" * 300 + "]}")
    problem = first_error(write(tmp_path, twice, "twice.af"))
    assert "inside the string" in problem.message
    assert problem.code is Code.TOO_DEEP


def test_missing_paths_and_folders(tmp_path):
    assert first_error(tmp_path / "nope.json").code is Code.FILE_NOT_FOUND
    assert first_error(tmp_path).code is Code.NOT_A_FILE


def test_the_mem0_structured_export_is_unsupported_format():
    path = FIXTURES / "mem0" / "mem0-synth-platform-structured-export.json"
    assert first_error(path).code is Code.UNSUPPORTED_FORMAT


# -- the JSON report -------------------------------------------------------------------------------
def _all_codes(report: dict) -> list[str]:
    return [p["code"] for p in report["errors"] + report["warnings"]]


def test_every_problem_in_the_json_report_has_a_valid_code(tmp_path):
    hostile = build(tmp_path / "hostile", big=False)
    paths = [case.path for case in hostile.values()]
    paths += sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    seen: set[str] = set()
    for path in paths:
        report = inspect_file(path).report.to_dict()
        json.dumps(report)
        for problem in report["errors"] + report["warnings"]:
            assert next(iter(problem)) == "code", (path, problem)
            assert problem["code"] in VALUES, (path, problem)
        seen.update(_all_codes(report))
        if not report["ok"]:
            assert report["errors"], path
    # the corpus reaches a good part of the codes (a smoke check that codes are really set)
    assert len(seen) >= 15, seen
