"""Secrets and server addresses: where secrets are found, which can travel, redaction of the
ones in data, and addresses that never keep a password."""

from __future__ import annotations

import pytest

from wizard.cli import main
from wizard.core.redact import REDACTED, is_credential_key, redact
from wizard.remote.client import BadURL, normalized
from wizard.remote.secret import BadSecret, find_secret


def test_an_env_file_inline_comment_is_not_part_of_the_secret(tmp_path):
    base = tmp_path / ".agentmemory"
    base.mkdir()
    (base / ".env").write_text("# agentmemory\nexport AGENTMEMORY_SECRET=abc123  # set by setup\n")
    found = find_secret(environ={}, home=tmp_path)
    assert found.value == "abc123" and found.where.endswith(".env")
    (base / ".env").write_text("AGENTMEMORY_SECRET='a # b'\n")
    assert find_secret(environ={}, home=tmp_path).value == "a # b"
    (base / ".env").write_text("AGENTMEMORY_SECRET='abc\t# a tab, then a comment\n")
    assert find_secret(environ={}, home=tmp_path).value == "abc"


def test_an_environment_secret_loses_its_trailing_newline():
    assert find_secret(environ={"AGENTMEMORY_SECRET": " abc123\n"}).value == "abc123"


@pytest.mark.parametrize("value", ["two\nlines", "tab\there", "euro\u20ac"])
def test_a_secret_a_header_cannot_carry_is_refused_without_showing_it(value):
    with pytest.raises(BadSecret) as caught:
        find_secret(environ={"AGENTMEMORY_SECRET": value})
    assert value not in str(caught.value) and "environment variable" in str(caught.value)


def test_the_cli_refuses_a_token_file_with_two_lines(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    token = tmp_path / "token"
    token.write_text("first-secret-part\nsecond-secret-part\n")
    code = main(["deliver", "--db", str(tmp_path / "s.sqlite"), "--token-file", str(token)])
    err = capsys.readouterr().err
    assert code == 2 and "line break" in err
    assert "first-secret-part" not in err and "second-secret-part" not in err


@pytest.mark.parametrize(
    "key",
    [
        "api_keys",
        "tokens",
        "apiKeys",
        "access_tokens",
        "db_password",
        "bearer",
        "cookies",
        "Secrets",
    ],
)
def test_plural_and_compound_credential_names_are_credentials(key):
    assert is_credential_key(key)


@pytest.mark.parametrize(
    "key",
    ["status", "bypass", "passage", "keyword", "tokenizer_name", "max_tokens", "num_tokens", "PWD"]
    + ["pass_rate", "first_pass", "keys"],
)
def test_ordinary_names_are_not_credentials(key):
    assert not is_credential_key(key)


def test_passwords_and_tokens_in_urls_are_redacted_and_nothing_else_changes():
    data = {
        "endpoint": "postgresql://letta:hunter2@db.local:5432/letta",
        "hook": "https://x.com/s?q=a%20b&token=abc&next=https://y.com/p&flag",
        "plain": "https://example.com/docs?page=2",
        "content": "Notes:\tsee https://x.com/?api_key=abc\nthen a & b = c, done.",
    }
    cleaned, found = redact(data)
    assert cleaned["endpoint"] == f"postgresql://letta:{REDACTED}@db.local:5432/letta"
    assert cleaned["hook"] == f"https://x.com/s?q=a%20b&token={REDACTED}&next=https://y.com/p&flag"
    assert cleaned["plain"] == data["plain"]
    assert cleaned["content"] == (
        f"Notes:\tsee https://x.com/?api_key={REDACTED}\nthen a & b = c, done."
    )
    assert sorted(found.paths) == ["content", "endpoint", "hook"]
    assert set(found.names) == {"a password or token in a URL"}  # never the key "content"
    again, found_again = redact(cleaned)
    assert again == cleaned and not found_again.paths


def test_a_credential_flag_value_in_an_argument_list_is_redacted():
    cleaned, found = redact({"args": ["serve", "--api-key", "sk-live-1", "--token=t0k", "-v"]})
    assert cleaned["args"] == ["serve", "--api-key", REDACTED, f"--token={REDACTED}", "-v"]
    assert found.paths == ["args[2]", "args[3]"]


@pytest.mark.parametrize(
    "items",
    [
        ["- token ring network", "ethernet"],
        ["--no-password", "server.py"],
        ["--password-file", "/etc/pw"],
        ["--max-tokens", "4096"],
        ["--token=", "serve"],
    ],
)
def test_lists_that_only_look_like_credential_flags_are_kept(items):
    cleaned, found = redact({"tags": items})
    assert cleaned["tags"] == items and not found.paths


def test_redaction_leaves_what_has_no_secret_untouched():
    data = {"args": ["serve", "--port", "8283"], "url": "http://localhost:8283/v1"}
    cleaned, found = redact(data)
    assert cleaned == data and not found.paths


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("localhost:3111", "http://localhost:3111"),
        ("https://user:pw@memory.example.org/", "https://memory.example.org"),
        ("http://[::1]:3111", "http://[::1]:3111"),
    ],
)
def test_a_server_address_is_normalized_and_never_keeps_a_password(given, expected):
    assert normalized(given) == expected


@pytest.mark.parametrize("given", ["localhost:abc", "http://localhost:99999", "ftp://x", "http://"])
def test_a_server_address_that_is_not_one_is_refused(given):
    with pytest.raises(BadURL):
        normalized(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git",
            f"https://{REDACTED}@github.com/o/r.git",
        ),
        ("https://glpat-abcdefgh@gitlab.com/o/r", f"https://{REDACTED}@gitlab.com/o/r"),
        (
            "https://a1b2c3d4e5f6a7b8c9d0e1f2@example.org/hook",
            f"https://{REDACTED}@example.org/hook",
        ),
        ("ssh://alice@host.example/repo", "ssh://alice@host.example/repo"),  # a name
        ("https://first.last@example.org/", "https://first.last@example.org/"),
        ("https://git@github.com/o/r.git", "https://git@github.com/o/r.git"),
    ],
)
def test_a_token_alone_in_a_urls_user_name_is_redacted_a_name_is_not(given, expected):
    cleaned, found = redact({"remote": given})
    assert cleaned["remote"] == expected
    assert bool(found.paths) == (given != expected)
