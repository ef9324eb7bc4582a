"""Every real sample is detected with the right format and converted to the expected counts
(the figures of the samples README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.schema import ExportData

FIXTURES = Path(__file__).parent / "fixtures"

# file: (format ids accepted, {collection: count}); counts not listed must be 0 or absent.
EXPECTED = {
    "agentmemory/agentmemory-0.3.0-small.json": (
        {"agentmemory"},
        {"sessions": 10, "observations": 500, "memories": 50, "summaries": 10},
    ),
    "agentmemory/agentmemory-0.9.5-small.json": (
        {"agentmemory"},
        {
            "sessions": 10,
            "observations": 500,
            "memories": 50,
            "summaries": 10,
            "graphNodes": 5,
            "graphEdges": 5,
        },
    ),
    "agentmemory/agentmemory-0.9.20-paginated.jsonl": (
        {"agentmemory-jsonl"},
        {
            "sessions": 15,
            "observations": 750,
            "memories": 75,
            "summaries": 15,
            "graphNodes": 6,
            "graphEdges": 6,
        },
    ),
    # Letta: agents -> sessions, blocks -> memories, messages -> observations
    "letta/loop.af": ({"letta-af"}, {"sessions": 1, "memories": 10, "observations": 3}),
    "letta/evie.af": ({"letta-af"}, {"sessions": 2, "memories": 15, "observations": 3}),
    "letta/memgpt_agent_with_convo.af": (
        {"letta-af"},
        {"sessions": 1, "memories": 3, "observations": 1},
    ),
    "letta/customer_service.double-encoded.af": (
        {"letta-af"},
        {"sessions": 1, "memories": 3, "observations": 1},
    ),
    "letta/legacy-memgpt_agent_with_convo.af": (
        {"letta-af-legacy"},
        {"sessions": 1, "memories": 3, "observations": 91},
    ),
    "letta/legacy-customer_service.af": (
        {"letta-af-legacy"},
        {"sessions": 1, "memories": 3, "observations": 4},
    ),
    "letta/legacy-deep_research_agent.af": (
        {"letta-af-legacy"},
        {"sessions": 1, "memories": 4, "observations": 4},
    ),
    "letta/letta-synth-archival-passages.json": ({"letta-passages"}, {"memories": 7}),
    # mem0
    "mem0/mem0-real-oss-2.2.1-getall-alice.json": ({"mem0-oss"}, {"memories": 19, "sessions": 2}),
    "mem0/mem0-real-oss-2.2.1-getall-all-users.json": (
        {"mem0-oss"},
        {"memories": 54, "sessions": 5},  # 3 run ids shared by 5 (user, run) pairs
    ),
    "mem0/mem0-real-oss-2.2.1-getall-bob-list.json": ({"mem0-oss"}, {"memories": 12}),
    "mem0/mem0-synth-oss-getall-v1_1-relations.json": ({"mem0-oss"}, {"memories": 7}),
    "mem0/mem0-real-oss-2.2.1-history.json": ({"mem0-history"}, {"memories": 1}),
    "mem0/mem0-synth-oss-history.json": ({"mem0-history"}, {"memories": 1}),
    "mem0/mem0-docs-platform-history.json": ({"mem0-history"}, {"memories": 1}),
    "mem0/mem0-docs-oss-history-ts-shape.json": ({"mem0-history"}, {"memories": 1}),
    "mem0/mem0-synth-platform-getall-v3-page.json": ({"mem0-platform"}, {"memories": 3}),
    "mem0/mem0-docs-platform-getall-graph.json": (
        {"mem0-platform"},
        {"memories": 3, "graphNodes": 3, "graphEdges": 3},
    ),
    "mem0/mem0-docs-platform-v2-getall-list.json": ({"mem0-platform", "mem0-oss"}, {"memories": 1}),
    "mem0/mem0-cognee-fixture-export.json": ({"mem0-platform", "mem0-oss"}, {"memories": 4}),
    "mem0/mem0-synth-oss-qdrant-export.json": ({"mem0-migration"}, {"memories": 4}),
    # only the active memories by default (paused, archived and deleted are left out, named)
    "mem0/openmemory-real-export.zip": ({"openmemory"}, {"memories": 10}),
    "mem0/mem0-synth-openmemory-export.zip": ({"openmemory"}, {"memories": 2}),
    "mem0/mem0-synth-openmemory-memories.json": ({"openmemory"}, {"memories": 2}),
}
CHECKED_COLLECTIONS = (
    "sessions",
    "observations",
    "memories",
    "summaries",
    "graphNodes",
    "graphEdges",
)


def test_every_fixture_is_covered():
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*") if p.is_file()}
    refused = {"mem0/mem0-synth-platform-structured-export.json"}
    assert on_disk == set(EXPECTED) | refused


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_detected_and_counted(name):
    formats, counts = EXPECTED[name]
    inspection = inspect_file(FIXTURES / name)
    report = inspection.report
    assert report.ok, report.errors
    assert report.format in formats
    for collection in CHECKED_COLLECTIONS:
        if collection in counts:
            assert report.counts.get(collection, 0) == counts[collection], collection
        elif collection in ("graphNodes", "graphEdges") and name.startswith("agentmemory"):
            assert report.counts.get(collection, 0) == 0
    assert all(cap.ok for cap in report.caps)
    # the converted data is valid agentmemory ExportData
    ExportData.model_validate(inspection.data)


def test_structured_export_refused_with_explanation():
    report = inspect_file(FIXTURES / "mem0/mem0-synth-platform-structured-export.json").report
    assert not report.ok
    assert "no memory records" in report.errors[0].message


def test_openmemory_real_export_states():
    path = FIXTURES / "mem0/openmemory-real-export.zip"
    data = inspect_file(path).data
    assert {m["source"]["raw"]["state"] for m in data["memories"]} == {"active"}
    data = inspect_file(path, InspectOptions(include_inactive=True)).data
    states = sorted(m["source"]["raw"]["state"] for m in data["memories"])
    assert states.count("active") == 10 and states.count("paused") == 1
    assert states.count("archived") == 1
    assert [m["isLatest"] for m in data["memories"]].count(False) == 2


def test_letta_ids_are_namespaced_and_stable():
    first = inspect_file(FIXTURES / "letta/loop.af").data
    again = inspect_file(FIXTURES / "letta/loop.af").data
    other = inspect_file(FIXTURES / "letta/memgpt_agent_with_convo.af").data
    ids = [s["id"] for s in first["sessions"]]
    assert ids == [s["id"] for s in again["sessions"]]
    assert not set(ids) & {s["id"] for s in other["sessions"]}
    assert all(not i.startswith("agent-") for i in ids)


def test_mem0_pacific_time_becomes_utc(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(
        '{"results": [{"id": "a1", "memory": "Likes tea", "hash": '
        '"0b6f0f2b5e4f8d9b3f1c2a7e6d5c4b3a", "metadata": null, '
        '"created_at": "2025-08-27T06:59:46.727515-07:00", "updated_at": null, '
        '"user_id": "alice"}]}'
    )
    memory = inspect_file(path).data["memories"][0]
    assert memory["createdAt"] == "2025-08-27T13:59:46.727515Z"
    assert memory["content"] == "Likes tea" and memory["title"] == "Likes tea"


@pytest.mark.parametrize(
    "name", ["agentmemory/agentmemory-0.9.5-small.json", "mem0/openmemory-real-export.zip", "gzip"]
)
def test_source_digest_is_the_files_sha256(tmp_path, name):
    import gzip
    import hashlib

    if name == "gzip":
        path = tmp_path / "evie.af.gz"
        path.write_bytes(gzip.compress((FIXTURES / "letta/evie.af").read_bytes()))
    else:
        path = FIXTURES / name
    source = inspect_file(path).source
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source.size == path.stat().st_size
