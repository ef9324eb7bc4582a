"""Export: the whole store as ExportData that imports again without loss."""

from __future__ import annotations

import json
import os
import stat

from store_helpers import SMALL, export, inspection, load_small, memory, run, session

from wizard import runs
from wizard.core.canonical import stamp_origin
from wizard.core.inspection import inspect_file
from wizard.core.versions import NEWEST
from wizard.store.database import open_store
from wizard.store.exporter import export_store


def _import(store, data, strategy="merge", fmt="agentmemory"):
    _, result = run(runs.import_steps(store, inspection(data, fmt=fmt), strategy))
    assert result.ok, result.error
    return result


def _extras() -> dict:
    return export(
        sessions=[session("extra")],
        memories=[memory("m-extra")],
        profiles=[{"project": "p", "topConcepts": ["a"]}],
        actions=[{"id": "a1", "title": "do"}],
        accessLogs=[{"memoryId": "m-extra", "count": 3}],
        futureThings=[{"id": "f1", "ünïcode": "✓"}],
    )


def test_export_import_export_round_trip_is_lossless(tmp_path):
    first = tmp_path / "one.json"
    second = tmp_path / "two.json"
    with open_store(tmp_path / "a.sqlite") as a:
        _import(a, load_small())
        _import(a, _extras())
        counts = export_store(a, first)
    exported = json.loads(first.read_text(encoding="utf-8"))
    assert exported["version"] == NEWEST and exported["exportedAt"].endswith("Z")
    assert counts["observations"] == 500 and counts["futureThings"] == 1
    with open_store(tmp_path / "b.sqlite") as b:
        _, result = run(runs.import_steps(b, inspection(exported), "merge"))
        assert result.ok
        export_store(b, second)
    again = json.loads(second.read_text(encoding="utf-8"))
    exported.pop("exportedAt")
    again.pop("exportedAt")
    assert again == exported
    assert list(again["observations"]) == list(exported["observations"])


def test_export_keeps_records_and_buckets_as_imported(tmp_path):
    original = load_small()
    out = tmp_path / "out.json"
    with open_store(tmp_path / "a.sqlite") as a:
        _import(a, original)
        export_store(a, out)
    exported = json.loads(out.read_text(encoding="utf-8"))
    assert exported["sessions"] == original["sessions"]
    assert list(exported["observations"]) == list(original["observations"])
    for sid, bucket in original["observations"].items():
        assert exported["observations"][sid] == [
            stamp_origin("observations", o, "agentmemory") for o in bucket
        ]
    assert exported["memories"] == [
        stamp_origin("memories", m, "agentmemory") for m in original["memories"]
    ]
    assert exported["graphNodes"] == original["graphNodes"]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_exported_file_passes_validation(tmp_path):
    out = tmp_path / "out.json"
    with open_store(tmp_path / "a.sqlite") as a:
        _import(a, json.loads(SMALL.read_text(encoding="utf-8")))
        export_store(a, out)
    insp = inspect_file(out)
    assert insp.ok, [str(e) for e in insp.report.errors]
    assert insp.format == "agentmemory"


def test_empty_store_exports_the_required_collections(tmp_path):
    out = tmp_path / "empty.json"
    with open_store(tmp_path / "a.sqlite") as a:
        assert export_store(a, out) == {
            "sessions": 0,
            "observations": 0,
            "memories": 0,
            "summaries": 0,
        }
    data = json.loads(out.read_text())
    assert data["observations"] == {} and data["sessions"] == []
