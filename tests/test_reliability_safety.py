"""Safety: no evaluation of input; owner-only files; logs without memory contents (success,
refusal and crash paths); a size limit for input files that the user can raise (CLI option,
wizard setting)."""

from __future__ import annotations

import ast
import json
import shutil
import stat
from pathlib import Path

import pytest
from store_helpers import SMALL

from wizard import crashlog
from wizard.cli import main

ROOT = Path(__file__).resolve().parents[1]
MARKER = "ZQX-private-memory-7731"  # stands for what a user's memories say


# -- no evaluation of input -----------------------------------------------------------------------
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "execfile"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "yaml", "jsonpickle"}
# The one exec: models.TableSpec.row_builder generates a row function from the *model's* column
# list (class attributes), never from input; checked below.
ALLOWED = {("wizard/store/models.py", "row_builder")}
# The one pickle: Qdrant's local rows are pickles; the storage reader unpickles them only with
# an allow-list of inert classes (checked below), never with pickle.load/loads.
PICKLE_READER = "wizard/core/storage/mem0.py"


def _calls(tree: ast.AST):
    """(called name, enclosing function) of every call in a module."""

    def visit(node, func):
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            )
            if isinstance(child, ast.Call):
                f = child.func
                if isinstance(f, ast.Name):  # eval(...), exec(...)
                    yield f.id, func
                elif (
                    isinstance(f, ast.Attribute)
                    and isinstance(f.value, ast.Name)
                    and f.value.id in ("builtins", "__builtins__")
                ):  # builtins.eval(...)
                    yield f.attr, func
            yield from visit(child, inner)

    yield from visit(tree, "")


def test_no_eval_exec_pickle_or_yaml_on_input():
    found = []
    for path in sorted((ROOT / "wizard").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [(node.module or "").split(".")[0]]
            else:
                continue
            found += [
                f"{rel}: import {m}"
                for m in mods
                if m in FORBIDDEN_MODULES and not (m == "pickle" and rel == PICKLE_READER)
            ]
        for name, func in _calls(tree):
            if name in FORBIDDEN_CALLS and (rel, func) not in ALLOWED:
                found.append(f"{rel}: {name}() in {func or 'module'}")
    assert found == []


def test_the_one_pickle_reader_uses_an_allow_list_and_never_plain_loads():
    tree = ast.parse((ROOT / PICKLE_READER).read_text(encoding="utf-8"))
    unpicklers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(b) == "pickle.Unpickler" for b in node.bases)
    ]
    assert len(unpicklers) == 1
    assert any(
        isinstance(f, ast.FunctionDef) and f.name == "find_class" for f in unpicklers[0].body
    )
    calls = {
        ast.unparse(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & {"pickle.load", "pickle.loads", "pickle.Unpickler"}


def test_the_generated_row_builders_come_from_the_models_only():
    from wizard.store.models import ALL_SPECS

    for spec in ALL_SPECS:
        if spec.generic:
            continue
        fields = [f for f, _column in spec.extract]
        assert fields == list(spec.model.record_fields)  # class attributes, not input
        assert all(f.isidentifier() for f in fields)
        hostile = {f: "'); import os; os._exit(9) #" for f in fields}
        row = spec.row_builder("c", "k", hostile, None, b"d", "{}", 1)
        assert row[1 : 1 + len(fields)] == tuple(hostile.values())  # data stays data


# -- owner-only files -----------------------------------------------------------------------------
def test_store_log_and_lock_info_files_are_owner_only(tmp_path, monkeypatch):
    from wizard.store import database

    monkeypatch.setattr(crashlog, "_configured", False)
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    db = tmp_path / "new" / "store.sqlite"
    try:
        assert main(["import", str(SMALL), "--db", str(db)]) == 0
        with database.open_store(db) as store:
            info = database.announce_writer(store.path, "a test")
            assert stat.S_IMODE(info.stat().st_mode) == 0o600
            database.withdraw_writer(info)
            assert not info.exists()
            for f in db.parent.iterdir():
                assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
            assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        crashlog.log_crash(RuntimeError("x"))
        assert stat.S_IMODE(crashlog.log_path().stat().st_mode) == 0o600
    finally:
        crashlog.close_log()


# -- logs carry no memory contents ----------------------------------------------------------------
@pytest.fixture
def log_file(tmp_path, monkeypatch) -> Path:
    """The app's log, in this test's folder (crashlog configures its handler once)."""
    crashlog.close_log()
    monkeypatch.setenv("AGENTMEMORY_WIZARD_LOG_DIR", str(tmp_path / "logs"))
    yield tmp_path / "logs" / "wizard.log"
    crashlog.close_log()


@pytest.fixture
def secret_export(tmp_path) -> Path:
    """The small sample with the marker in record texts (and nowhere else)."""
    data = json.loads(SMALL.read_text(encoding="utf-8"))
    data["memories"][0]["content"] = f"my bank PIN is in {MARKER}"
    data["sessions"][0]["firstPrompt"] = MARKER
    data["observations"][next(iter(data["observations"]))][0]["narrative"] = MARKER
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_logs_carry_no_memory_contents(
    tmp_path, log_file, secret_export, monkeypatch, capsys, qapp
):
    from pydantic import BaseModel

    from wizard.core import inspection, reading
    from wizard.store import importer

    db = tmp_path / "store.sqlite"
    # success
    assert main(["import", str(secret_export), "--db", str(db)]) == 0
    # refusal: an invalid record holding the marker
    data = json.loads(secret_export.read_text())
    data["memories"][1]["createdAt"] = {"when": MARKER}
    refused = tmp_path / "refused.json"
    refused.write_text(json.dumps(data))
    assert main(["import", str(refused), "--db", str(db)]) == 1
    # an adapter bug whose exception quotes a record (the core logs it and refuses the file)
    original = reading.read_payload

    def buggy_reader(path, *args, **kwargs):
        payload = original(path, *args, **kwargs)
        content = payload.value["memories"][0]["content"]
        raise ValueError(f"invalid literal for int() with base 10: {content!r}")

    monkeypatch.setattr(inspection, "read_payload", buggy_reader)
    assert main(["import", str(secret_export), "--db", str(db)]) == 1
    monkeypatch.setattr(inspection, "read_payload", original)
    # a bug while writing: the import fails, the CLI logs the traceback
    flush = importer._Engine._flush

    def buggy_flush(self, db, spec, logs, rows):
        flush(self, db, spec, logs, rows)
        raise KeyError(next((r for r in rows if MARKER in str(r)), rows[0])[-2][:200])

    monkeypatch.setattr(importer._Engine, "_flush", buggy_flush)
    data["memories"][1]["createdAt"] = "2026-01-01T00:00:00.000Z"
    data["memories"][0]["content"] = f"changed: {MARKER}"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    assert main(["import", str(changed), "--db", str(db)]) == 3
    monkeypatch.setattr(importer._Engine, "_flush", flush)

    # pydantic's messages quote the input value; the GUI's error dialog logs through the same path
    class Record(BaseModel):
        strength: int

    try:
        Record(strength=MARKER)
    except Exception as exc:
        from wizard.ui.error_dialog import show_unexpected_error

        dialog = show_unexpected_error(exc)
        assert dialog is not None and MARKER not in dialog.report
        dialog.close()

    err = capsys.readouterr().err
    assert "details in" in err
    log = log_file.read_text(encoding="utf-8")
    assert log.count("unexpected error") == 3 and "Traceback" in log
    assert "ValueError: invalid literal for int() with base 10: '<" in log
    assert "input_value='<" in log
    assert MARKER not in log
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_redaction_keeps_the_code_and_the_shape_of_the_message():
    try:
        {}["some key"]
    except KeyError as exc:
        report = crashlog.crash_report(exc)
    assert "error: KeyError: '<8 chars>'" in report
    assert '{}["some key"]' in report  # the code line of the traceback stays


# -- a size limit the user can raise --------------------------------------------------------------
def test_cli_max_size_limits_and_raises_the_input_size(tmp_path, capsys):
    db = tmp_path / "store.sqlite"
    size = SMALL.stat().st_size
    assert main(["validate", str(SMALL), "--max-size", str(size - 1)]) == 1
    out = capsys.readouterr().out
    assert f"files up to {size - 1} bytes are accepted" in out and "--max-size" in out
    assert main(["import", str(SMALL), "--db", str(db), "--max-size", "100K"]) == 1
    assert "--max-size" in capsys.readouterr().err
    assert main(["import", str(SMALL), "--db", str(db), "--max-size", "1M"]) == 0
    assert main(["validate", str(SMALL), "--max-size", "4G"]) == 0
    assert main(["validate", str(SMALL), "--max-size", "lots"]) == 2
    assert "not a size" in capsys.readouterr().err


def test_cli_max_size_reaches_the_reader(tmp_path, monkeypatch):
    from wizard.cli import build_parser
    from wizard.cli_commands import inspect_options
    from wizard.core.inspection import DEFAULT_MAX_BYTES

    parser = build_parser()
    assert inspect_options(parser.parse_args(["validate", "f"])).max_bytes == DEFAULT_MAX_BYTES
    assert DEFAULT_MAX_BYTES == 2 * 1024**3
    args = parser.parse_args(["import", "f", "--max-size", "4GiB"])
    assert inspect_options(args).max_bytes == 4 * 1024**3


def test_wizard_setting_raises_the_size_limit_for_the_next_inspection(qtbot, db_path, tmp_path):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QWizard

    from wizard.ui import open_wizard
    from wizard.ui.settings import Settings

    big = tmp_path / "export.json"
    shutil.copy(SMALL, big)
    big.write_text(big.read_text() + " " * (1024 * 1024))  # a little over 1 MB
    Settings().set_max_input_mb(1)
    wiz = open_wizard(db_path)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.load_file(str(big))
    qtbot.waitUntil(
        lambda: wiz.session.inspection is not None and not wiz.session.is_inspecting(),
        timeout=10_000,
    )
    assert not wiz.session.inspection.ok
    message = wiz.session.inspection.report.errors[0].message
    assert "files up to 1.0 MB are accepted" in message
    wiz.next()  # the validation page says what to do, by the problem's code, with a button
    page = wiz.validation_page
    assert page.advice.isVisibleTo(page) and "setting" in page.advice.text()

    with qtbot.waitSignal(wiz.settingsOpened) as opened:
        qtbot.mouseClick(page.findChild(object, "sizeSettingsButton"), Qt.MouseButton.LeftButton)
    dialog = opened.args[0]
    spin = dialog.findChild(object, "maxInputSpin")
    assert spin.value() == 1
    spin.setValue(4096)
    with qtbot.waitSignal(wiz.session.inspectionFinished, timeout=10_000):
        dialog.accept()  # checked again with the new limit
    assert wiz.session.inspection.ok and wiz.session.options.max_bytes == 4096 * 1024**2
    assert Settings().max_input_mb() == 4096
    assert wiz.button(QWizard.WizardButton.NextButton).isEnabled()

    again = open_wizard(db_path)  # the setting persists
    qtbot.addWidget(again)
    assert again.session.options.max_bytes == 4096 * 1024**2


def test_settings_dialog_default_and_cancel(qtbot, db_path):
    from wizard.ui import open_wizard
    from wizard.ui.settings import DEFAULT_MAX_INPUT_MB, Settings

    wiz = open_wizard(db_path)
    qtbot.addWidget(wiz)
    assert wiz.session.options.max_bytes == 2 * 1024**3  # FORMATS.md: 2 GB by default
    dialog = wiz.open_settings()
    dialog.findChild(object, "maxInputSpin").setValue(10)
    dialog.reject()
    assert Settings().max_input_mb() == DEFAULT_MAX_INPUT_MB
    dialog = wiz.open_settings()
    dialog.findChild(object, "maxInputSpin").setValue(10)
    dialog.findChild(object, "restoreDefaultButton").click()
    dialog.accept()
    assert Settings().max_input_mb() == DEFAULT_MAX_INPUT_MB
