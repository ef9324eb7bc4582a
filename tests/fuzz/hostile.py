"""The hostile files of FORMATS.md section 7 and the issue's list, built on disk in one go.

Each :class:`Hostile` says what the refusal must mention (``expect``, case-insensitive) and where
(``where``: a regular expression the problem's location must match: ``(file)``, ``line L,
column C`` or a JSON path / zip member). The reliability tests send every one through the core,
the CLI and the wizard; the fuzzer uses them as seeds.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import socket
import struct
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


def _encrypted_zip(members: dict[str, bytes]) -> bytes:
    """A zip whose members are marked encrypted (the flag bit in the local header and the
    directory entry; zipfile writes no encryption, and the wizard must refuse before it tries
    to decrypt)."""
    data = bytearray(_zip(members))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at != -1:
            (flags,) = struct.unpack_from("<H", data, at + flags_at)
            struct.pack_into("<H", data, at + flags_at, flags | 0x1)
            at = data.find(signature, at + 4)
    return bytes(data)


def _many_members(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("memories.json", "[]")
        for i in range(count - 1):
            z.writestr(f"n/{i}", b"")
    return buf.getvalue()


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))  # the socket file stays when it is closed


def _link_to(target: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.symlink_to(target)

    return make


def _surrogate(where: str) -> bytes:
    """A small valid export with a lone surrogate escape (JSON "\\ud800") in one place."""
    data: dict = {
        "version": "0.9.5",
        "sessions": [{"id": "s1", "project": "/p"}],
        "observations": {"s1": [{"id": "o1", "sessionId": "s1"}]},
        "memories": [{"id": "m1", "type": "fact", "title": "t", "content": "c"}],
        "summaries": [],
    }
    mark = "@SURROGATE@"
    if where == "id":
        data["memories"][0]["id"] = f"m{mark}"
    elif where == "project":
        data["sessions"][0]["project"] = f"/p{mark}"
    elif where == "version":
        data["version"] = f"0.9.5{mark}"
    elif where == "bucket":
        data["observations"] = {f"s1{mark}": data["observations"]["s1"]}
    elif where == "collection":
        data[f"lessons{mark}"] = [{"id": "l1"}]
    return json.dumps(data).replace(mark, "\\ud800").encode("utf-8")


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


def catalog(*, big: bool = True, special: bool = False) -> list[_Spec]:
    """Every hostile file, not written yet. ``big=False`` leaves out the 1 GB gzip bomb, the
    64 MB string and the 500,000-record cap file. ``special=True`` adds the things that are not
    regular files (a named pipe, devices, a socket, a /proc file whose size is 0 but which
    reads on): the reliability tests send them everywhere; the fuzzer, which reads every
    case's bytes, leaves them out (reading them would block or never end)."""
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
    # -- hardening round two (issue 17): numbers, encodings, archives, surrogates, special files
    document = '{"version": "0.9.5", "memories": [{"id": "m", "strength": %s}]}'
    add("number-1e999", "huge-number.json", document % "1e999", "beyond what a double", LINE)
    add("number-minus-1e400", "minus-huge.json", document % "-1e400", "beyond what a double", LINE)
    text = '{"version": "0.9.5", "sessions": []}'
    for label, encoding, bom in (
        ("utf32-le-bom", "utf-32-le", codecs.BOM_UTF32_LE),
        ("utf32-be-bom", "utf-32-be", codecs.BOM_UTF32_BE),
        ("utf32-le", "utf-32-le", b""),
        ("utf32-be", "utf-32-be", b""),
    ):
        add(label, f"{label}.json", bom + text.encode(encoding), "is UTF-32 text", FILE)
    for label, encoding in (("utf16-le", "utf-16-le"), ("utf16-be", "utf-16-be")):
        add(
            label,
            f"{label}.json",
            text.encode(encoding),
            "is UTF-16 text without a byte order mark",
            FILE,
        )
    add(
        "zip-encrypted-member",
        "encrypted.zip",
        _encrypted_zip({"memories.json": b'{"memories": []}'}),
        "encrypted: the wizard cannot read it; export it without a password",
        r"memories\.json",
    )
    add(
        "zip-10001-members",
        "many-members.zip",
        _many_members(10_001),
        "10,001 members",
        FILE,
    )
    add(
        "surrogate-in-id", "surrogate-id.json", _surrogate("id"), "lone surrogate", r"memories\[0\]"
    )
    add(
        "surrogate-in-project",
        "surrogate-project.json",
        _surrogate("project"),
        "lone surrogate",
        r"sessions\[0\]",
    )
    add(
        "surrogate-in-version",
        "surrogate-version.json",
        _surrogate("version"),
        "lone surrogate",
        "version",
    )
    add(
        "surrogate-in-bucket",
        "surrogate-bucket.json",
        _surrogate("bucket"),
        "lone surrogate",
        r'observations\["s1\\ud800"\]',
    )
    add(
        "surrogate-in-collection-name",
        "surrogate-collection.json",
        _surrogate("collection"),
        "lone surrogate",
        r'"lessons\\ud800"',
    )
    if special:
        add("fifo", "fifo.json", _fifo, "is a named pipe (FIFO), not a regular file", FILE)
        add("socket", "socket.json", _socket, "is a socket, not a regular file", FILE)
        for device in ("/dev/zero", "/dev/urandom"):
            if os.path.exists(device):
                add(
                    f"device-{device.rsplit('/', 1)[1]}",
                    f"{device.rsplit('/', 1)[1]}.json",
                    _link_to(device),
                    "is a device",
                    FILE,
                )
        if os.path.exists("/proc/self/pagemap"):  # size 0, reads on for hundreds of GB
            add(
                "proc-file",
                "pagemap.json",
                _link_to("/proc/self/pagemap"),
                "says it holds 0 bytes but has content",
                FILE,
            )
    if big:
        add("gzip-bomb-1gb", "bomb-1gb.json.gz", _gzip_bomb, "compression bomb", FILE, True)
        add("string-64mb", "string-64mb.json", _huge_string, "longer than 10 MB", LINE, True)
    return specs


NAMES = [spec.name for spec in catalog(special=True)]
SPECIAL = [n for n in NAMES if n not in {spec.name for spec in catalog()}]


def build(folder: Path, *, big: bool = True, special: bool = False) -> dict[str, Hostile]:
    """Write every hostile file into ``folder``; returns them by name (``special``: see
    :func:`catalog`)."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Hostile] = {}
    for spec in catalog(big=big, special=special):
        path = folder / spec.file
        if callable(spec.content):
            spec.content(path)
        else:
            path.write_bytes(spec.content)
        cases[spec.name] = Hostile(spec.name, path, spec.expect, spec.where, spec.big)
    return cases


__all__ = ["NAMES", "SPECIAL", "Hostile", "build", "catalog"]
