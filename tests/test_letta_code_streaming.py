"""Letta Code's local backend converts from the spool: each conversation's ``messages.jsonl`` is
read a line at a time into an array that moves to the read's spool past the reader's budget,
rewritten messages are found by SQLite in the spool, and each agent's observations are written
to the spool; the records are those of a conversion in memory, and memory does not grow with
the transcripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from store_helpers import FIXTURES
from streaming_helpers import as_lists, peak_of_a_migration, same_inspection

from wizard.core import spool
from wizard.core.inspection import inspect_file
from wizard.core.problems import Code, InputRefused
from wizard.core.spool import RecordList
from wizard.core.storage import ReadContext
from wizard.core.storage import letta_code as layout

FIXTURE = FIXTURES / "native" / "letta-code" / "lc-local-backend"
AGENT_A = "agent-local-3c9e7a52-4d1b-4f0e-9a8c-2b6d51e0f7a4"
AGENT_B = "agent-local-8f2d6b1e-5a7c-4e93-b0d4-61c9e3a2f5b8"
DIR_A = "conversations/ZGVmYXVsdDphZ2VudC1sb2NhbC0zYzllN2E1Mi00ZDFiLTRmMGUtOWE4Yy0yYjZkNTFlMGY3YTQ"
DIR_A1 = "conversations/Y29udmVyc2F0aW9uOmxvY2FsLWNvbnYtMQ"
DIR_B = "conversations/ZGVmYXVsdDphZ2VudC1sb2NhbC04ZjJkNmIxZS01YTdjLTRlOTMtYjBkNC02MWM5ZTNhMmY1Yjg"
SMALL_BUDGET = 64 * 1024  # the reader keeps this much before it spools


def store(tmp_path: Path) -> Path:
    """A copy of the fixture with its memory repositories' ``.git`` folders back in place."""
    root = tmp_path / "lc-local-backend"
    shutil.copytree(FIXTURE, root)
    for stored in root.glob("memfs/*/memory/dot-git"):
        stored.rename(stored.with_name(".git"))
    return root


def _message(mid: str | None, n: int, text: str, agent: str = AGENT_A) -> dict:
    when = f"2026-03-05T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z"
    message: dict = {
        "role": "user" if n % 3 else "assistant",
        "metadata": {"created_at": when, "agent_id": agent, "conversation_id": "default"},
        "content": [{"type": "text", "text": text}],
        "timestamp": 1772700000000 + n,
    }
    if mid is not None:
        message["id"] = mid
    return {"type": "message", "id": f"e{n}", "timestamp": when, "message": message}


def append_lines(path: Path, entries: list) -> None:
    with path.open("a", encoding="utf-8") as file:
        for entry in entries:
            file.write((entry if isinstance(entry, str) else json.dumps(entry)) + "\n")


def varied(tmp_path: Path) -> Path:
    """The fixture with what a transcript may hold besides plain messages: snapshots of a
    message written again (next to each other and far apart), messages without id, blank
    lines, rows that are not messages, old UI rows, bare schema-1 messages, a conversation
    without its record (its messages say whose it is) and one of no agent."""
    root = store(tmp_path)
    append_lines(
        root / DIR_A / "messages.jsonl",
        [
            _message("x-1", 1, "first snapshot"),
            _message("x-1", 2, "second snapshot"),
            _message("x-2", 3, "another message"),
            _message(None, 4, "no id"),
            "",
            "   ",
            "[1, 2]",
            {"type": "custom", "data": 1},
            {"id": "old", "role": "user", "parts": [{"type": "text", "text": "hi"}]},
            {"id": "bare", "role": "user", "content": "a schema-1 message"},
            '{"id": "nan", "role": "user", "content": "x", "score": NaN, "w": -Infinity}',
            _message("x-1", 5, "third snapshot, far from the first"),
            _message(None, 6, "no id either"),
        ],
    )
    (root / DIR_A1 / "conversation.json").unlink()  # whose: from its messages' metadata
    orphan = root / "conversations" / "Y29udmVyc2F0aW9uOm9ycGhhbg"  # conversation:orphan
    orphan.mkdir()
    append_lines(
        orphan / "messages.jsonl",
        [_message("o-1", n, "lost", "agent-local-gone") for n in (7, 8)],
    )
    return root


# -- the same records from the spool ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fixture", "varied"])
def test_a_letta_code_folder_converts_from_the_spool_the_same(kind, tmp_path, monkeypatch):
    root = store(tmp_path) if kind == "fixture" else varied(tmp_path)
    plain = inspect_file(root)
    assert plain.report.format == "letta-code-local"
    assert not isinstance(plain.data["observations"], RecordList)
    assert not any(isinstance(b, RecordList) for b in plain.data["observations"].values())
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)  # every transcript row spooled
    spooled = inspect_file(root)
    same_inspection(spooled, plain)
    assert all(isinstance(b, RecordList) for b in spooled.data["observations"].values())


def test_rewritten_messages_count_once_in_their_first_place_with_their_last_text(
    tmp_path, monkeypatch
):
    root = varied(tmp_path)
    for budget in (spool.SPILL_AFTER, -1):
        monkeypatch.setattr(spool, "SPILL_AFTER", budget)
        insp = inspect_file(root)
        sid = f"letta-code-{AGENT_A}"
        ids = [o["id"].rsplit("-default-", 1)[-1] for o in insp.data["observations"][sid]]
        tail = ids[ids.index("x-1") :]
        assert tail[:4] == ["x-1", "x-2", f"line-{10 + 4}", "bare"]
        x1 = next(o for o in insp.data["observations"][sid] if o["id"].endswith("-x-1"))
        assert x1["narrative"] == "third snapshot, far from the first"
        left = {e.category: e.count for e in insp.report.left_behind}
        assert left["letta-code.message-snapshots"] == 1 + 2  # (the fixture has one)
        assert left["letta-code.legacy-transcripts"] == 1
        assert left["letta-code.orphan-conversations"] == 1


def test_the_reader_spools_transcripts_past_its_budget(tmp_path, monkeypatch):
    root = varied(tmp_path)
    plain = layout.read(root, ReadContext())
    assert all(isinstance(c["transcript"], list) for c in plain["conversations"])
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)
    spooled = layout.read(root, ReadContext())
    transcripts = {c["dir"]: c["transcript"] for c in spooled["conversations"]}
    assert all(isinstance(t, RecordList) for t in transcripts.values())
    assert as_lists(spooled) == as_lists(plain)
    lines = [r["line"] for r in transcripts[DIR_A]]
    assert lines[-7:] == [17, 18, 19, 20, 21, 22, 23]  # (blank lines 15 and 16 are no rows)
    assert lines[-8] == 14
    entries = [r["entry"] for r in transcripts[DIR_A] if isinstance(r["entry"], dict)]
    nan = next(e for e in entries if e.get("id") == "nan")
    assert (nan["score"], nan["w"]) == (None, None)  # (as the spool writes them)


# -- refusals, a line at a time -----------------------------------------------------------------


def test_a_damaged_line_refuses_the_folder_with_its_line_and_column(tmp_path, monkeypatch):
    monkeypatch.setattr(spool, "SPILL_AFTER", -1)
    root = store(tmp_path)
    append_lines(root / DIR_A / "messages.jsonl", ["", '{"type": "message", "id": "ab12'])
    with pytest.raises(InputRefused) as caught:
        layout.read(root, ReadContext())
    problem = caught.value.problem
    assert (problem.code, problem.path, problem.line, problem.column) == (
        Code.SYNTAX_ERROR,
        f"{DIR_A}/messages.jsonl",
        12,
        27,
    )


def test_a_byte_that_is_not_utf8_is_refused_even_after_a_damaged_line(tmp_path):
    """As when the file was decoded whole before it was parsed: the byte, not the line."""
    root = store(tmp_path)
    path = root / DIR_A / "messages.jsonl"
    size = path.stat().st_size
    append_lines(path, ["{oops", "fine"])
    with path.open("ab") as file:
        file.write(b'{"caf\xe9": 1}\n')
    with pytest.raises(InputRefused) as caught:
        layout.read(root, ReadContext())
    problem = caught.value.problem
    assert (problem.code, problem.path) == (Code.NOT_UTF8, f"{DIR_A}/messages.jsonl")
    before = size + len(b"{oops\nfine\n") + len(b'{"caf')
    assert f"(byte {before + 1})" in problem.message


def test_a_byte_order_mark_and_windows_line_ends_read_as_before(tmp_path):
    root = store(tmp_path)
    path = root / DIR_B / "messages.jsonl"
    text = path.read_text("utf-8")
    plain = layout.read(root, ReadContext())
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert layout.read(root, ReadContext()) == plain


# -- memory does not grow with the transcripts ---------------------------------------------------


def write_big(tmp_path: Path, name: str, messages: int) -> Path:
    """The fixture with ``messages`` more messages (about 1,200 bytes each, every one written
    twice, as when it streamed), half in each agent's default conversation."""
    root = tmp_path / name
    shutil.copytree(store(tmp_path / f"{name}-src"), root)
    filler = "lorem ipsum dolor sit amet " * 42
    for folder, agent in ((DIR_A, AGENT_A), (DIR_B, AGENT_B)):
        entries = []
        for n in range(messages // 2):
            entries.append(_message(f"big-{n}", n, f"draft {n} {filler}", agent))
            entries.append(_message(f"big-{n}", n, f"message {n} {filler}", agent))
        append_lines(root / folder / "messages.jsonl", entries)
    return root


def test_memory_of_a_letta_code_folder_does_not_grow_with_its_transcripts(tmp_path, monkeypatch):
    """Four times the messages, about the same peak: a reader or converter that keeps the
    transcript or the records in Python fails this."""
    monkeypatch.setattr(spool, "SPILL_AFTER", SMALL_BUDGET)
    # (both past the buffers records are read, written and imported in: 5 and 21 MB, more
    # observations than the importer writes at a time, under 5,000 a session)
    small = write_big(tmp_path, "small", 2200)
    large = write_big(tmp_path, "large", 8800)
    assert (large / DIR_A / "messages.jsonl").stat().st_size > 5_000_000
    insp = inspect_file(small)
    assert insp.ok and insp.report.format == "letta-code-local"
    assert insp.report.counts["observations"] == 23 - 4 + 2200  # (the fixture's, deduped)
    del insp
    peak_small = peak_of_a_migration(small, tmp_path / "small.sqlite")
    peak_large = peak_of_a_migration(large, tmp_path / "large.sqlite")
    assert peak_large < 1.3 * peak_small + 2 * 1024 * 1024, (peak_small, peak_large)
