"""Hardening round two, outputs: what the app writes never destroys anything (the store, a
link's target, an existing file without --force, a half-written file after a kill), cells for
spreadsheets never run as formulas, and text printed to a terminal never carries control
characters from names or records."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from store_helpers import SMALL

from wizard.cli import main
from wizard.core import outputs
from wizard.core.outputs import OutputRefused, check_output, write_text_atomic
from wizard.core.terminal import json_terminal_safe, spreadsheet_safe, terminal_safe
from wizard.ui.audit_model import entries_to_csv


@pytest.fixture
def store(tmp_path) -> Path:
    db = tmp_path / "store.sqlite"
    assert main(["import", str(SMALL), "--db", str(db)]) == 0
    return db


def test_export_refuses_the_store_and_its_companions(store, capsys):
    for target in (store, Path(f"{store}-wal")):
        before = store.read_bytes()
        assert main(["export", "--db", str(store), "--out", str(target), "--force"]) == 2
        assert "is the store" in capsys.readouterr().err
        assert store.read_bytes() == before


def test_export_needs_force_to_replace_a_file(store, tmp_path, capsys):
    out = tmp_path / "out.json"
    out.write_text("keep me")
    assert main(["export", "--db", str(store), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err and out.read_text() == "keep me"
    assert main(["export", "--db", str(store), "--out", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["memories"]


def test_export_never_writes_through_a_link_or_into_a_pipe(store, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    link = tmp_path / "link.json"
    link.symlink_to(victim)
    assert main(["export", "--db", str(store), "--out", str(link), "--force"]) == 2
    assert victim.read_text() == "precious"
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert main(["export", "--db", str(store), "--out", str(fifo), "--force"]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_an_atomic_write_leaves_the_old_file_when_it_fails(tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")

    def boom(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        outputs.write_atomic(out, boom, force=True)
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_partial_file_a_killed_writer_left_is_removed_next_time(tmp_path):
    dead = 2**22 + 12345  # no such process
    partial = tmp_path / f".out.csv{outputs.TEMP_MARK}{dead}-0"
    partial.write_text("half")
    write_text_atomic(tmp_path / "out.csv", "new")
    assert not partial.exists() and (tmp_path / "out.csv").read_text() == "new"


def test_check_output_names_a_missing_folder(tmp_path):
    with pytest.raises(OutputRefused, match="does not exist"):
        check_output(tmp_path / "nope" / "x.json")


@pytest.mark.parametrize("cell", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"])
def test_spreadsheet_cells_never_start_a_formula(cell):
    assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("plain") == "plain" and spreadsheet_safe(5) == 5


def test_the_audit_csv_neutralizes_formulas_in_file_names():
    entry = {
        "id": 1,
        "operation": "import",
        "outcome": "refused",
        "source": {"name": '=HYPERLINK("http://evil")', "path": "/x"},
    }
    rows = list(csv.DictReader(io.StringIO(entries_to_csv([entry]))))
    assert rows[0]["file_name"].startswith("'=")


def test_terminal_text_escapes_control_characters():
    name = "evil\x1b]0;owned\x07\nAudit entry #999 succeeded\x9b31m\u202e"
    safe = terminal_safe(name)
    assert "\n" not in safe and "\x1b" not in safe and "\x9b" not in safe
    assert "\u202e" not in safe and "\\e]0;owned" in safe
    assert json.loads(json_terminal_safe(json.dumps({"n": "\x9b"}, ensure_ascii=False))) == {
        "n": "\x9b"
    }


def test_the_cli_prints_hostile_names_escaped(tmp_path, capsys):
    bad = tmp_path / "x\x1b[2J\nforged line.json"
    bad.write_text("not json")
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "\x1b" not in text
    assert not any(line.startswith("forged line") for line in text.splitlines())


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "--limit", "9" * 30],
        ["revert", "9" * 30],
        ["deliver", "--audit-id", "-1"],
        ["validate", "x.json", "--max-size", "1" + "0" * 400 + "G"],
        ["validate", "x.json", "--preview", "9" * 30],
    ],
)
def test_numbers_out_of_range_are_usage_errors(args, capsys):
    assert main(args) == 2
    assert "error: argument" in capsys.readouterr().err


@pytest.mark.parametrize("stdout", ["/dev/full", "closed"])
def test_an_import_whose_result_cannot_be_written_is_still_committed(tmp_path, stdout):
    import subprocess
    import sys

    db = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "wizard", "import", str(SMALL), "--db", str(db)]
    if stdout == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    with open(os.devnull, "rb") as stdin:
        if stdout == "closed":
            proc = subprocess.run(
                cmd,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                preexec_fn=lambda: os.close(1),
            )
        else:
            with open("/dev/full", "w") as full:
                proc = subprocess.run(cmd, stdin=stdin, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr
    assert b"import committed (audit entry #1)" in proc.stderr
    assert main(["stats", "--db", str(db), "--json"]) == 0


# -- files the app creates -------------------------------------------------------------------------
def test_an_existing_empty_file_becomes_an_owner_only_store(tmp_path):
    db = tmp_path / "store.sqlite"
    db.touch()
    os.chmod(db, 0o644)
    assert main(["import", str(SMALL), "--db", str(db)]) == 0
    for part in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if part.exists():
            assert part.stat().st_mode & 0o077 == 0, part


def test_a_store_reached_through_a_link_is_owner_only(tmp_path):
    real = tmp_path / "real.sqlite"
    real.touch()
    os.chmod(real, 0o666)
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    assert main(["import", str(SMALL), "--db", str(link)]) == 0
    assert real.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name", [":memory:", "file:store.sqlite?mode=memory", " "])
def test_sqlites_special_names_are_refused_as_stores(name, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["import", str(SMALL), "--db", name]) != 0
    assert "not a store file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_lock_info_file_never_writes_through_a_link(tmp_path):
    from wizard.store import database

    db = tmp_path / "store.sqlite"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    Path(f"{database.lock_info_path(db)}.{os.getpid()}.tmp").symlink_to(victim)
    database.announce_writer(db, "test")
    assert victim.read_text() == "precious"
    assert json.loads(database.lock_info_path(db).read_text())["program"] == "test"


# -- commands that only read -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["audit"],
        ["export", "--out", "OUT"],
        ["prune", "--older-than", "90d", "--dry-run"],
        ["deliver", "--dry-run"],
    ],
)
def test_commands_that_read_never_create_a_store(args, tmp_path, capsys):
    db = tmp_path / "missing" / "store.sqlite"
    args = [str(tmp_path / "out.json") if a == "OUT" else a for a in args]
    assert main([*args, "--db", str(db)]) == 2
    assert str(db) in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()


def test_a_dry_run_creates_no_store_and_no_folder(tmp_path, capsys):
    db = tmp_path / "missing" / "store.sqlite"
    assert main(["import", str(SMALL), "--dry-run", "--db", str(db)]) == 0
    assert "nothing is created yet" in capsys.readouterr().out
    assert not (tmp_path / "missing").exists()


def test_reading_commands_work_on_a_store_on_read_only_media(store, tmp_path, monkeypatch, capsys):
    """Nothing can be written beside such a store (no -shm, no lock): it is read as it is.
    (Read-only media are simulated: tests cannot mount a read-only disk.)"""
    from wizard.store import database

    assert main(["stats", "--db", str(store)]) == 0  # settle the store (checkpoint)
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    monkeypatch.setattr(database, "_on_read_only_media", lambda path: True)
    before = store.read_bytes()
    capsys.readouterr()
    assert main(["stats", "--db", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["memories"] == 50
    assert main(["audit", "--db", str(store)]) == 0
    assert main(["export", "--db", str(store), "--out", str(tmp_path / "e.json")]) == 0
    assert store.read_bytes() == before
    assert not Path(f"{store}-wal").exists() and not Path(f"{store}-shm").exists()
