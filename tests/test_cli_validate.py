"""`agentmemory-wizard validate`: readable summary, exact JSON report, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from wizard.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "agentmemory/agentmemory-0.9.5-small.json"
REFUSED = FIXTURES / "mem0/mem0-synth-platform-structured-export.json"


def test_validate_json_report(capsys):
    assert main(["validate", str(SAMPLE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "ok",
        "format",
        "source_version",
        "counts",
        "caps",
        "errors",
        "warnings",
        "left_behind",
    }
    assert report["ok"] is True and report["format"] == "agentmemory"
    assert report["source_version"] == "0.9.5"
    assert report["counts"]["observations"] == 500
    assert {c["name"] for c in report["caps"]} >= {"sessions", "observations"}
    assert set(report["caps"][0]) == {"name", "count", "limit", "ok", "message"}


def test_validate_summary_and_refusal_exit_code(capsys):
    assert main(["validate", str(SAMPLE)]) == 0
    assert "can be imported" in capsys.readouterr().out
    assert main(["validate", str(REFUSED)]) == 1
    out = capsys.readouterr().out
    assert "REFUSED" in out and "no memory records" in out


def test_syntax_error_json_has_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "0.9.5",\n "sessions": [}')
    assert main(["validate", str(bad), "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["errors"][0]
    assert error["line"] == 2 and error["column"] == 15


def test_missing_file_is_a_refusal_not_a_traceback(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "does not exist" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main(["validate"]) == 2
    assert main(["validate", str(SAMPLE), "--bogus"]) == 2


def test_module_entry_point_runs_without_traceback(tmp_path):
    bad = tmp_path / "binary.json"
    bad.write_bytes(b"\x00\x01\x02")
    proc = subprocess.run(
        [sys.executable, "-m", "wizard", "validate", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "binary" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
