"""Hardening round two (issue 17), the reading side: things that are not regular files, the
audit's hash and size taken from the open file, text that is not valid Unicode, non-finite
numbers, archives, and one huge record. The hostile files among these go through every entry
point from the catalogue (``tests/fuzz/hostile.py``); this module proves what a catalogue case
cannot: timing-free "never blocks" checks, files changed while read, names that are not UTF-8."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from store_helpers import SMALL, copy_of, load_small, run

from wizard import runs
from wizard.cli import main
from wizard.core import fastjson
from wizard.core.inspection import InspectOptions, inspect_file
from wizard.core.jsonstream import JsonStream
from wizard.core.problems import Code, InputRefused
from wizard.remote.secret import BadSecret, find_secret
from wizard.store import database

GIB = 1024**3


def in_time(fn, *args, seconds: float = 20, **kwargs):
    """``fn(*args)`` on a thread: its result, or a failure if it has not returned in time (a
    read that blocks or never ends). A bound on a hang, not a timing: it never fails a slow
    machine that reads at all."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} did not return: it blocks or reads forever"
    if "error" in out:
        raise out["error"]
    return out["value"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def last_entry(db: Path) -> dict:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return dict(con.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT 1").fetchone())
    finally:
        con.close()


@pytest.fixture
def store(tmp_path, template) -> Path:
    return copy_of(template, tmp_path)


# -- 1. things that are not regular files ---------------------------------------------------------
def test_a_named_pipe_without_a_writer_is_refused_at_once_saying_what_it_is(tmp_path):
    fifo = tmp_path / "export.json"
    os.mkfifo(fifo)
    inspection = in_time(inspect_file, fifo)
    problem = inspection.report.errors[0]
    assert problem.code is Code.NOT_A_FILE
    assert "is a named pipe (FIFO), not a regular file" in problem.message
    assert (inspection.source.size, inspection.source.sha256) == (0, "")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_before_it_is_read(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    inspection = in_time(inspect_file, device)
    problem = inspection.report.errors[0]
    assert problem.code is Code.NOT_A_FILE and "is a device" in problem.message
    assert inspection.source.sha256 == ""


def test_a_proc_file_of_size_0_that_reads_on_is_refused_after_one_byte():
    if not os.path.exists("/proc/self/pagemap"):
        pytest.skip("no /proc here")
    inspection = in_time(inspect_file, "/proc/self/pagemap")
    problem = inspection.report.errors[0]
    assert problem.code is Code.NOT_A_FILE and "0 bytes but has content" in problem.message
    assert inspection.source.sha256 == ""  # (source_info used to hash it: hundreds of GB)


def test_an_over_limit_file_is_refused_without_being_read_or_hashed(tmp_path):
    """A sparse 20 GB file: refused from its size; its audit hash is empty (source_info used to
    hash the whole of it before the refusal was shown)."""
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(20 * GIB)
    inspection = in_time(inspect_file, big)
    assert inspection.report.errors[0].code is Code.SIZE_LIMIT
    assert inspection.source.size == 20 * GIB and inspection.source.sha256 == ""


def test_cli_import_of_a_named_pipe_is_refused_and_audited(store, tmp_path, capsys):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert in_time(main, ["import", str(fifo), "--db", str(store)]) == 1
    err = capsys.readouterr().err
    assert "pipe.json: refused: (file): pipe.json is a named pipe (FIFO)" in err
    entry = last_entry(store)
    assert (entry["outcome"], entry["error_code"], entry["source_sha256"]) == (
        "refused",
        "not-a-file",
        "",
    )


def test_the_window_never_blocks_on_a_named_pipe_and_writes_nothing(qtbot, store, tmp_path):
    """The window hands a pipe to the reader, which refuses it at once, saying what it is;
    above all it never waits on the pipe."""
    from test_reliability_hostile import _drop

    from wizard.ui import open_wizard

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    before = last_entry(store)
    wiz = open_wizard(store)
    qtbot.addWidget(wiz)
    wiz.show()
    _drop(wiz.file_page.drop_zone, fifo)
    qtbot.waitUntil(lambda: wiz.session.inspection is not None, timeout=10_000)
    problem = wiz.session.inspection.report.errors[0]
    assert problem.code == Code.NOT_A_FILE and "named pipe" in problem.message
    assert last_entry(store) == before


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "/dev/urandom", "big", "latin1"])
def test_a_token_file_that_is_not_a_small_text_file_is_refused_at_once(tmp_path, target):
    path = tmp_path / "token"
    if target == "fifo":
        os.mkfifo(path)
    elif target == "big":
        path.write_bytes(b"x" * (65 * 1024))
    elif target == "latin1":
        path.write_bytes(b"caf\xe9")
    else:
        if not os.path.exists(target):
            pytest.skip(f"no {target} here")
        path = Path(target)
    with pytest.raises((OSError, BadSecret)) as caught:
        in_time(find_secret, path, {})
    if isinstance(caught.value, OSError):
        assert caught.value.strerror  # what the CLI prints: "it is a named pipe (FIFO), ..."
    assert "caf" not in str(caught.value)


def test_deliver_with_a_token_file_that_is_a_pipe_is_a_usage_error(tmp_path, capsys):
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    code = in_time(
        main,
        ["deliver", "--db", str(tmp_path / "s.sqlite"), "--token-file", str(fifo), "--to",
         "http://127.0.0.1:9"],
    )  # fmt: skip
    assert code == 2
    assert "it is a named pipe (FIFO), not a regular file" in capsys.readouterr().err


# -- 2. the audit's hash and size are those of the bytes imported ---------------------------------
def _replace_once(path: Path, other: Path):
    """A cancel callback that replaces ``path`` by ``other`` the first time it is asked."""
    done = []

    def cancel() -> bool:
        if not done:
            done.append(True)
            os.replace(other, path)
        return False

    return cancel


def _many_memories() -> dict:
    """An export with enough records (and bytes: several read chunks) that the reader asks
    ``cancel`` while it reads."""
    data = load_small()
    data["memories"] = [dict(data["memories"][0], id=f"m{i}") for i in range(20_000)]
    return data


def test_a_file_replaced_while_it_is_read_is_read_and_hashed_as_it_was_opened(tmp_path):
    data = _many_memories()
    path = tmp_path / "export.json"
    text = json.dumps(data, indent=1).encode()
    path.write_bytes(text)
    other = tmp_path / "other.json"
    other.write_text(json.dumps(dict(data, memories=[])))
    inspection = inspect_file(path, cancel=_replace_once(path, other))
    assert not other.exists()  # it was replaced mid-read
    assert inspection.ok
    assert inspection.source.sha256 == sha256(text) and inspection.source.size == len(text)
    assert len(inspection.data["memories"]) == len(data["memories"])


def test_a_zip_is_hashed_from_the_same_open_file(tmp_path):
    members = {"memories.json": json.dumps({"memories": [{"id": "m", "content": "x"}]})}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    path = tmp_path / "backup.zip"
    path.write_bytes(buf.getvalue())
    other = tmp_path / "other.zip"
    other.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    inspection = inspect_file(path, cancel=_replace_once(path, other))
    assert path.read_bytes() != buf.getvalue()  # replaced while it was read
    assert inspection.source.sha256 == sha256(buf.getvalue())
    assert inspection.source.size == len(buf.getvalue())


def test_a_file_deleted_before_the_import_is_imported_as_read(store, tmp_path):
    path = tmp_path / "export.json"
    shutil.copy(SMALL, path)
    content = path.read_bytes()
    inspection = inspect_file(path)
    path.unlink()  # the import re-reads nothing by path
    with database.open_store(store) as opened:
        _, result = run(runs.import_steps(opened, inspection, "merge"))
    assert result.ok
    entry = last_entry(store)
    assert (entry["source_sha256"], entry["source_size"]) == (sha256(content), len(content))


def test_a_file_that_grows_while_it_is_read_is_refused(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_many_memories(), indent=1))
    grown = []

    def cancel() -> bool:
        if not grown:
            grown.append(True)
            with open(path, "a") as f:
                f.write("\n" * 4096)
        return False

    inspection = inspect_file(path, cancel=cancel)
    problem = inspection.report.errors[0]
    assert problem.code is Code.FILE_CHANGED and "changed while it was read" in problem.message


def test_a_file_refused_for_its_content_keeps_its_full_hash(tmp_path):
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(dict(load_small(), version="1.0.0")))
    inspection = inspect_file(path)
    assert inspection.report.errors[0].code is Code.VERSION_UNSUPPORTED
    assert inspection.source.sha256 == sha256(path.read_bytes())


# -- 3. text that is not valid Unicode ------------------------------------------------------------
def _odd_name(folder: Path, content: bytes) -> Path:
    """A file whose name is not UTF-8 (byte 0xff): os.fsdecode gives a surrogate escape."""
    raw = os.fsencode(folder) + b"/caf\xc3\xa9-\xff.json"
    with open(raw, "wb") as f:
        f.write(content)
    return Path(os.fsdecode(raw))


def test_a_name_that_is_not_utf8_is_imported_and_audited_escaped(store, tmp_path, capsys):
    path = _odd_name(tmp_path, SMALL.read_bytes())
    assert main(["import", str(path), "--db", str(store)]) == 0
    assert "café-\\udcff.json" in capsys.readouterr().out
    entry = last_entry(store)
    assert entry["outcome"] == "succeeded"
    assert entry["source_name"] == "café-\\udcff.json"
    assert entry["source_path"].endswith("/café-\\udcff.json")
    assert main(["validate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_a_refused_file_whose_name_is_not_utf8_is_audited(store, tmp_path, capsys):
    path = _odd_name(tmp_path, b"{")
    assert main(["import", str(path), "--db", str(store)]) == 1
    assert "café-\\udcff.json: refused: line 1, column 2" in capsys.readouterr().err
    entry = last_entry(store)
    assert (entry["outcome"], entry["source_name"]) == ("refused", "café-\\udcff.json")


def test_names_and_surrogates_print_on_a_strict_terminal(tmp_path):
    """stdout and stderr that refuse surrogates (a UTF-8 locale outside UTF-8 mode)."""
    good = _odd_name(tmp_path, SMALL.read_bytes())
    bad = tmp_path / "surrogate.json"
    bad.write_text(json.dumps(load_small()).replace('"id": "', '"id": "\\udc80', 1))
    env = dict(os.environ, PYTHONIOENCODING="utf-8:strict", PYTHONUTF8="0")
    for args, code in (
        (["validate", str(good)], 0),
        (["validate", "--json", str(good)], 0),
        (["import", str(good), "--db", str(tmp_path / "s.sqlite")], 0),
        (["validate", str(bad)], 1),
        (["import", "--json", str(bad), "--db", str(tmp_path / "s.sqlite")], 1),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "wizard", *args], env=env, capture_output=True, timeout=120
        )
        assert done.returncode == code, (args, done.stderr)
        assert b"Traceback" not in done.stderr and b"unexpected error" not in done.stderr


def test_a_lone_surrogate_in_text_is_stored_escaped_and_losslessly(store, tmp_path):
    data = load_small()
    data["memories"][0]["content"] = "half \ud83d of an emoji"
    data["memories"][0]["tags\udc80"] = ["key with a surrogate"]
    path = tmp_path / "text.json"
    path.write_text(json.dumps(data))  # (json escapes them: "\ud83d")
    inspection = inspect_file(path)
    assert inspection.ok, inspection.report.errors
    with database.open_store(store) as opened:
        _, result = run(runs.import_steps(opened, inspection, "merge"))
    assert result.ok, result.error
    con = sqlite3.connect(store)
    (text,) = con.execute(
        "SELECT data FROM memories WHERE id = ?", (data["memories"][0]["id"],)
    ).fetchone()
    con.close()
    assert "\\ud83d" in text  # escaped in valid JSON text
    assert json.loads(text)["content"] == "half \ud83d of an emoji"
    assert json.loads(text)["tags\udc80"] == ["key with a surrogate"]


def test_a_surrogate_pair_is_text_not_a_lone_surrogate(tmp_path):
    data = load_small()
    data["sessions"][0]["id"] = "ses_\U0001f600"
    path = tmp_path / "pair.json"
    path.write_text(json.dumps(data))  # written "\ud83d\ude00": a valid pair
    assert inspect_file(path).ok


def test_a_lone_surrogate_in_an_id_can_be_left_out_with_the_invalid_records(store, tmp_path):
    data = load_small()
    data["memories"][1]["id"] = "m\udfff"
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(data))
    refused = inspect_file(path)
    problem = refused.report.errors[0]
    assert (problem.path, problem.code) == ("memories[1]", Code.INVALID_RECORD)
    assert "lone surrogate" in problem.message and "\\udfff" in problem.message
    inspection = inspect_file(path, InspectOptions(skip_invalid=True))
    assert inspection.ok
    with database.open_store(store) as opened:
        _, result = run(runs.import_steps(opened, inspection, "merge"))
    assert result.ok and result.collections["memories"].inserted == len(data["memories"]) - 1


def test_a_lone_surrogate_in_a_mem0_id_is_a_clean_answer(tmp_path):
    """Adapters hash source ids (canonical.stable_id): a surrogate does not crash them."""
    path = tmp_path / "mem0.json"
    path.write_text(
        json.dumps({"results": [{"id": "a\ud800", "memory": "likes tea", "user_id": "u\udc00"}]})
    )
    inspection = inspect_file(path)
    assert not any(p.code is Code.CONVERSION_FAILED for p in inspection.report.errors)


def test_the_wizard_reads_a_file_whose_name_is_not_utf8(qtbot, store, tmp_path):
    """Given on the command line (a str with surrogate escapes, as Python has it): read, and
    shown escaped."""
    from wizard.ui import open_wizard

    path = _odd_name(tmp_path, SMALL.read_bytes())
    wiz = open_wizard(store, str(path))
    qtbot.addWidget(wiz)
    wiz.show()
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=30_000,
    )
    assert wiz.session.inspection.ok
    assert wiz.session.inspection.source.name == "café-\\udcff.json"


def test_a_dropped_file_whose_name_is_not_utf8_is_read(qtbot, store, tmp_path):
    """A file manager drops ``file:///…/caf%C3%A9-%FF.json``: the name's bytes, encoded."""
    from urllib.parse import quote_from_bytes

    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from wizard.ui import open_wizard

    path = _odd_name(tmp_path, SMALL.read_bytes())
    wiz = open_wizard(store)
    qtbot.addWidget(wiz)
    wiz.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromEncoded(b"file://" + quote_from_bytes(os.fsencode(path)).encode())])
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(wiz.file_page.drop_zone, QDragEnterEvent(QPoint(5, 5), *args))
    QApplication.sendEvent(wiz.file_page.drop_zone, QDropEvent(QPointF(5, 5), *args))
    qtbot.waitUntil(lambda: not wiz.session.is_inspecting(), timeout=10_000)
    assert wiz.session.inspection is not None and wiz.session.inspection.ok


# -- 4. non-finite numbers -------------------------------------------------------------------------
def test_nothing_non_finite_is_ever_written_as_json():
    with pytest.raises(ValueError):
        fastjson.dumps({"big": 2**70, "x": float("inf")})  # json's path: no "Infinity"
    assert json.loads(fastjson.dumps({"x": 1e308})) == {"x": 1e308}


def test_a_huge_but_finite_or_tiny_number_is_read():
    stream = JsonStream(iter(['{"a": 1.7e308, "b": 1e-400, "c": -2.5e-3}']))
    assert [v for v, _ in stream.values()] == [{"a": 1.7e308, "b": 0.0, "c": -2.5e-3}]


def test_a_non_finite_number_deep_in_a_small_array_is_located():
    text = '{"version": "0.9.5",\n "observations": {"s": [{"id": "o", "n": [1, 2, 1E+999]}]}}'
    with pytest.raises(InputRefused) as caught:
        list(JsonStream(iter([text])).values())
    p = caught.value.problem
    assert (p.code, p.line, p.column) == (Code.NAN_OR_INFINITY, 2, text.index("1E+999") - 20)


# -- 5. archives --------------------------------------------------------------------------------
def _zip(members: list[tuple[str, bytes]], comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.comment = comment
            z.writestr(info, data)
    return buf.getvalue()


@pytest.mark.parametrize("member", ["..memories.json", "a..b/memories.json", "x/..y/memories.json"])
def test_a_member_named_with_two_dots_is_not_a_parent_path(tmp_path, member):
    path = tmp_path / "backup.zip"
    path.write_bytes(_zip([(member, b'{"memories": []}')]))
    problems = inspect_file(path).report.errors
    assert not any(p.code is Code.UNSAFE_ZIP_PATH for p in problems), problems


def test_two_members_of_the_same_name_are_reported_naming_the_one_read(tmp_path):
    first = json.dumps([{"id": "first", "memory": "one", "user_id": "u"}]).encode()
    second = json.dumps([{"id": "second", "memory": "two", "user_id": "u"}]).encode()
    path = tmp_path / "backup.zip"
    import warnings

    with warnings.catch_warnings():  # zipfile warns of the duplicate name it writes
        warnings.simplefilter("ignore")
        path.write_bytes(_zip([("memories.json", first), ("memories.json", second)]))
    report = inspect_file(path).report
    notes = [p for p in report.warnings if p.code is Code.DUPLICATE_ZIP_MEMBER]
    assert len(notes) == 1
    assert "holds 2 members named memories.json: the first in its directory is read" in (
        notes[0].message
    )


def test_a_zip_directory_too_large_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "backup.zip"
    members = [("memories.json", b"[]")] + [(f"n{i}", b"") for i in range(200)]
    path.write_bytes(_zip(members, comment=b"c" * 60_000))  # 12 MB of directory
    problem = inspect_file(path).report.errors[0]
    assert problem.code is Code.TOO_MANY_ZIP_MEMBERS and "of directory" in problem.message


# -- 6. one huge record ----------------------------------------------------------------------------
def _record(strings: int, long_at: int | None = None, escaped: bool = False) -> str:
    parts = [f'"s{i}": "{"x" * 90}"' for i in range(strings)]
    if long_at is not None:
        body = '\\"' * 40_000 if escaped else "y" * 80_000
        parts[long_at] = f'"long": "{body}"'
    return '{"agents": [{' + ", ".join(parts) + "}]}"


def _chunks(text: str, size: int = 8192):
    return iter([text[i : i + size] for i in range(0, len(text), size)])


def test_a_record_many_times_the_string_limit_of_short_strings_is_read():
    text = _record(20_000)  # 2 MB, the limit 64 KiB: the window grows many times
    stream = JsonStream(_chunks(text), max_string=64 * 1024)
    [(value, _)] = list(stream.values())
    assert len(value["agents"][0]) == 20_000


@pytest.mark.parametrize("escaped", [False, True])
def test_a_long_string_late_in_a_growing_record_is_refused_where_it_starts(escaped):
    text = _record(20_000, long_at=15_000, escaped=escaped)
    stream = JsonStream(_chunks(text), max_string=64 * 1024)
    with pytest.raises(InputRefused) as caught:
        list(stream.values())
    p = caught.value.problem
    assert p.code is Code.STRING_TOO_LONG
    assert p.column == text.index('"long": "') + len('"long": ') + 1
