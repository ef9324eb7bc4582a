"""Issue 16, the command line's rough edges: a misspelt subcommand, help for every argument
(worded for its command), export into a missing folder, and import given two files."""

from __future__ import annotations

import argparse

from store_helpers import SMALL

from wizard import cli
from wizard.exit_codes import EXIT_USAGE


def subcommands() -> dict[str, argparse.ArgumentParser]:
    return cli._subparsers(cli.build_parser())


def test_a_misspelt_subcommand_is_named_with_what_was_meant(capsys):
    assert cli.main(["valdate", "x.json"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "unknown command 'valdate', did you mean 'validate'?" in err
    assert cli.main(["frobnicate"]) == EXIT_USAGE
    assert "unknown command 'frobnicate' (commands: validate, import" in capsys.readouterr().err


def test_the_window_opens_for_files_not_for_misspelt_commands(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.opens_window([])
    assert cli.opens_window([str(SMALL)])
    assert cli.opens_window(["missing-export.json"])  # the window says it is not there
    assert cli.opens_window(["import.json"])  # a file name, even one close to a command
    assert not cli.opens_window(["valdate", "x.json"])
    assert not cli.opens_window(["imprt"])
    assert not cli.opens_window(["validate", "x.json"])
    assert not cli.opens_window(["--help"])
    (tmp_path / "valdate").write_text("{}")  # a file of that name is a file
    assert cli.opens_window(["valdate"])


def test_the_entry_point_routes_a_misspelt_subcommand_to_the_cli(monkeypatch, capsys):
    from wizard import main as entry
    from wizard.ui import app

    monkeypatch.setattr(app, "run_gui", lambda args: 99)  # never open a window here
    assert entry.main(["valdate", "x.json"]) == EXIT_USAGE
    assert "did you mean 'validate'?" in capsys.readouterr().err


def test_every_argument_has_help():
    parser = cli.build_parser()
    missing = [a.dest for a in parser._actions if not a.help or a.help == argparse.SUPPRESS]
    for name, sub in subcommands().items():
        missing += [
            f"{name} {'/'.join(a.option_strings) or a.dest}"
            for a in sub._actions
            if not a.help or a.help == argparse.SUPPRESS
        ]
    assert missing == []


def test_read_options_are_worded_for_their_command():
    def helps(command: str) -> dict[str, str]:
        return {
            a.option_strings[0]: a.help or ""
            for a in subcommands()[command]._actions
            if a.option_strings
        }

    validate, imp = helps("validate"), helps("import")
    assert "import the valid records" not in validate["--skip-invalid"]
    assert validate["--skip-invalid"].startswith("check the file as if")
    assert imp["--skip-invalid"].startswith("import the valid records")
    for option in ("--include-deleted", "--include-inactive"):
        assert "also import" not in validate[option] and "also import" in imp[option]


def test_export_into_a_missing_folder_is_an_output_error(tmp_path, capsys):
    db = tmp_path / "store.sqlite"
    out = tmp_path / "no-such-folder" / "export.json"
    assert cli.main(["export", "--db", str(db), "--out", str(out)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"cannot write {out}: the folder {out.parent} does not exist" in err
    assert "store" not in err.split("error:", 1)[1].split("does not exist")[1]
    assert not db.exists()  # refused before the store is opened
    assert cli.main(["import", str(SMALL), "--db", str(db)]) == 0
    out = tmp_path / "export.json"
    assert cli.main(["export", "--db", str(db), "--out", str(out)]) == 0
    assert out.exists()


def test_import_of_two_files_says_it_takes_one_and_names_the_extra(tmp_path, capsys):
    db = tmp_path / "store.sqlite"
    assert cli.main(["import", "a.af", "b.af", "--db", str(db)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("usage: agentmemory-wizard import ")  # its own usage, not the top's
    assert "import takes one file; the extra argument: 'b.af'" in err
    assert cli.main(["validate", "a.json", "b.json", "c.json"]) == EXIT_USAGE
    assert "the extra arguments: 'b.json', 'c.json'" in capsys.readouterr().err
    assert cli.main(["stats", "x.json", "--db", str(db)]) == EXIT_USAGE
    assert "stats takes no file or other argument; got 'x.json'" in capsys.readouterr().err
    assert cli.main(["import", "--bogus", str(SMALL), "--db", str(db)]) == EXIT_USAGE
    assert "import has no option --bogus" in capsys.readouterr().err
    assert not db.exists()
