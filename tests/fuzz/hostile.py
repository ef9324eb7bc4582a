"""The hostile files of FORMATS.md section 7 and the issue's list, built on disk in one go.

Each :class:`Hostile` says what the refusal must mention (``expect``, case-insensitive) and where
(``where``: a regular expression the problem's location must match: ``(file)``, ``line L,
column C`` or a JSON path / zip member). The reliability tests send every one through the core,
the CLI and the wizard; the fuzzer uses them as seeds.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wizard.core.caps import LIMITS
from wizard.core.collections import ALL

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOOD = {"version": "0.9.5", "sessions": [], "observations": {}, "memories": [], "summaries": []}
MIB = 1024 * 1024
FILE = r"\(file\)"
LINE = r"line \d+, column \d+"


@dataclass(frozen=True)
class Hostile:
    name: str
    path: Path
    expect: str  # in the refusal message (case-insensitive)
    where: str  # regular expression for Problem.where()
    big: bool = False  # expands to tens of MB or more: measured for memory, not sent everywhere


@dataclass(frozen=True)
class _Spec:
    name: str
    file: str
    content: bytes | Callable[[Path], object]  # the bytes, or what writes the file
    expect: str
    where: str
    big: bool = False


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return buf.getvalue()


def _gzip_bomb(path: Path, expanded_mib: int = 1024) -> None:
    """``expanded_mib`` MB of JSON whitespace inside an array, about 1 KB per MB on disk. A gzip
    file may hold many members one after another (RFC 1952): the 1 MB member is compressed once
    and written again and again, so building the 1 GB bomb takes milliseconds."""
    spaces = gzip.compress(b" " * MIB, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(b'{"version": "0.9.5", "sessions": [', mtime=0))
        for _ in range(expanded_mib):
            f.write(spaces)
        f.write(gzip.compress(b"]}", mtime=0))


def _huge_string(path: Path, mib: int = 64) -> None:
    chunk = "x" * MIB
    with open(path, "w", encoding="ascii") as f:
        f.write('{"version": "0.9.5", "sessions": [{"id": "')
        for _ in range(mib):
            f.write(chunk)
        f.write('"}]}')


def _cap_data(name: str) -> dict:
    """The smallest valid export over one of agentmemory's caps."""
    if name == "sessions":
        return dict(GOOD, sessions=[{"id": f"s{i}"} for i in range(10_001)])
    if name == "memories":
        return dict(GOOD, memories=[{"id": f"m{i}"} for i in range(50_001)])
    if name == "summaries":
        return dict(GOOD, summaries=[{"sessionId": f"s{i}"} for i in range(10_001)])
    if name == "observationBuckets":
        return dict(GOOD, observations={f"s{i}": [] for i in range(10_001)})
    if name == "observationsPerSession":
        return dict(GOOD, observations={"s0": [{"id": f"o{i}"} for i in range(5_001)]})
    if name == "observations":  # 101 sessions of 4,951: over 500,000 in all, each under 5,000
        return dict(
            GOOD,
            observations={f"s{b}": [{"id": f"o{b}.{i}"} for i in range(4_951)] for b in range(101)},
        )
    if name == "accessLogs":
        return dict(GOOD, memories=[{"id": "m"}], accessLogs=[{"memoryId": "m"}] * 50_001)
    raise ValueError(name)


def catalog(*, big: bool = True) -> list[_Spec]:
    """Every hostile file, not written yet. ``big=False`` leaves out the 1 GB gzip bomb, the
    64 MB string and the 500,000-record cap file."""
    specs: list[_Spec] = []

    def add(name, file, content, expect, where, is_big=False):
        if isinstance(content, str):
            content = content.encode("utf-8")
        specs.append(_Spec(name, file, content, expect, where, is_big))

    add("empty", "empty.json", b"", "is empty", FILE)
    add("whitespace", "whitespace.json", b"  \n\t\r\n  ", "only whitespace", FILE)
    add("binary", "binary.json", b"\x00\x01\x02\x03binary\xff\xfe\x00", "binary", FILE)
    add(
        "invalid-utf8",
        "latin1.json",
        b'{"version": "0.9.5", "sessions": [{"id": "caf\xe9"}]}',
        "not valid UTF-8",
        FILE,
    )
    add("utf16-bom", "utf16.json", b"\xff\xfe" + '{"a": 1}'.encode("utf-16-le"), "UTF-16", FILE)
    add(
        "utf8-bom-truncated",
        "bom-truncated.json",
        b'\xef\xbb\xbf{"version": "0.9.5",\n "sessions": [{"id": "a"',
        "malformed JSON",
        LINE,
    )
    add(
        "truncated",
        "truncated.json",
        '{\n  "version": "0.9.5",\n  "sessions": [\n    {"id": "a"},\n',
        "malformed JSON",
        LINE,
    )
    add(
        "trailing-garbage",
        "trailing.json",
        json.dumps(GOOD) + " } garbage",
        "extra data after the end",
        LINE,
    )
    add(
        "trailing-garbage-next-line",
        "trailing-line.json",
        json.dumps(GOOD) + "\n} garbage",
        "malformed JSON",
        LINE,
    )
    add(
        "nan",
        "nan.json",
        '{"version": "0.9.5", "sessions": [{"id": "a", "score": NaN}]}',
        "NaN is not valid JSON",
        LINE,
    )
    add(
        "infinity",
        "infinity.json",
        '{"version": "0.9.5", "memories": [{"id": "m", "strength": -Infinity}]}',
        "Infinity is not valid JSON",
        LINE,
    )
    add(
        "nested-100000",
        "deep.json",
        '{"version": "0.9.5", "sessions": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "nesting deeper than 200",
        LINE,
    )
    add(
        "zip-bomb",
        "zip-bomb.zip",
        _zip({"memories.json": b" " * (40 * MIB)}),
        "zip bomb",
        r"memories\.json",
    )
    add(
        "zip-slip",
        "zip-slip.zip",
        _zip({"../../etc/memories.json": "{}"}),
        "unsafe path",
        r"\.\./\.\./etc/memories\.json",
    )
    add(
        "zip-absolute-member",
        "zip-absolute.zip",
        _zip({"/tmp/memories.json": "{}"}),
        "unsafe path",
        r"/tmp/memories\.json",
    )
    add(
        "zip-without-memories-json",
        "notes.zip",
        _zip({"notes.txt": "hello", "data/other.json": "{}"}),
        "without memories.json",
        FILE,
    )
    add("zip-damaged", "damaged.zip", b"PK\x03\x04" + b"\x00" * 64, "zip", FILE)
    add("gzip-damaged", "damaged.json.gz", gzip.compress(b'{"a": 1}')[:-12], "damaged", FILE)
    lines = (FIXTURES / "agentmemory/agentmemory-0.9.20-paginated.jsonl").read_text().splitlines()
    lines[1] = lines[1][:-40]
    add(
        "jsonl-one-broken-line",
        "paginated.jsonl",
        "\n".join(lines),
        "JSON Lines record that starts on line 2",
        LINE,
    )
    add(
        "letta-double-encoded-broken",
        "agent.af",
        json.dumps('{"agents": [{"name": "x",}], "blocks": []}'),
        "inside the string",
        FILE,
    )
    add(
        "unsupported-version",
        "v1.json",
        json.dumps(dict(GOOD, version="1.0.0")),
        "supported versions are",
        "version",
    )
    add("unknown-shape", "unknown.json", '{"hello": "world"}', "no supported format", FILE)
    for c in ALL:
        wrong = [] if c.name == "observations" else {"oops": 1}
        add(
            f"wrong-type-{c.name}",
            f"wrong-{c.name}.json",
            json.dumps(dict(GOOD, **{c.name: wrong})),
            "must be an",
            c.name,
        )
    add(
        "wrong-type-observation-bucket",
        "wrong-bucket.json",
        json.dumps(dict(GOOD, observations={"s1": {"not": "a list"}})),
        "must be an array",
        r"observations\.s1",
    )
    for cap, _limit, message in LIMITS:
        if cap == "observations" and not big:
            continue
        add(
            f"over-cap-{cap}",
            f"cap-{cap}.json",
            lambda path, cap=cap: path.write_text(
                json.dumps(_cap_data(cap), separators=(",", ":")), encoding="utf-8"
            ),
            message,
            cap,
        )
    if big:
        add("gzip-bomb-1gb", "bomb-1gb.json.gz", _gzip_bomb, "compression bomb", FILE, True)
        add("string-64mb", "string-64mb.json", _huge_string, "longer than 10 MB", LINE, True)
    return specs


NAMES = [spec.name for spec in catalog()]


def build(folder: Path, *, big: bool = True) -> dict[str, Hostile]:
    """Write every hostile file into ``folder``; returns them by name."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Hostile] = {}
    for spec in catalog(big=big):
        path = folder / spec.file
        if callable(spec.content):
            spec.content(path)
        else:
            path.write_bytes(spec.content)
        cases[spec.name] = Hostile(spec.name, path, spec.expect, spec.where, spec.big)
    return cases


__all__ = ["NAMES", "Hostile", "build", "catalog"]
