"""Time per MB to read one huge record: the reader must take linear time in its size.

Usage: python bench/huge_record.py [--sizes 8 32] [--rounds 3] [--work DIR]

Two shapes, each written once per size:

- ``agent``: a Letta agent file (``{"agents": [ONE AGENT], ...}``) whose one agent holds the
  given megabytes of messages: a record of another format, which has no record limit (it is
  converted, not sent whole), read by ``read_payload`` (parsing only, no conversion);
- ``memory``: agentmemory's own file whose one memory is as large as the record limit lets
  it be (capped at 15 MB: a record over 16 MiB is refused), read the same way.

The reader grows its window over a record that does not fit: a quadratic window (appending a
chunk at a time to one string, or decoding again from the start after each chunk) shows as a
time per MB that grows with the size; a linear one stays flat. The ratio of the largest size's
time per MB to the smallest's is printed (about 1 is linear; 4x the size would give about 4
if quadratic). A benchmark, never a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from wizard.core.reading import Limits, read_payload  # noqa: E402 - after the path is set

MB = 1024 * 1024
MESSAGE = (
    '{"role":"assistant","text":"' + "a fairly ordinary sentence of a conversation. " * 12 + '",'
    '"tool_calls":[],"created_at":"2026-01-01T00:00:00Z","id":"message-%d"}'
)


def _messages(target: int) -> str:
    parts, size, i = [], 0, 0
    while size < target:
        text = MESSAGE % i
        parts.append(text)
        size += len(text) + 1
        i += 1
    return ",".join(parts)


def agent_file(path: Path, mb: int) -> None:
    body = _messages(mb * MB)
    path.write_text(
        '{"agents":[{"name":"agent","id":"agent-1","messages":[' + body + "]}],"
        '"blocks":[],"tools":[]}',
        encoding="utf-8",
    )


def memory_file(path: Path, mb: int) -> None:
    body = _messages(min(mb, 15) * MB)
    path.write_text(
        '{"version":"0.9.5","sessions":[],"observations":{},"summaries":[],'
        '"memories":[{"id":"m1","type":"fact","title":"t","content":"c","history":['
        + body
        + "]}]}",
        encoding="utf-8",
    )


SHAPES = {"agent": agent_file, "memory": memory_file}


def _time(path: Path, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        read_payload(path, Limits(spill_after=None))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 32], help="MB per record")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--only", choices=sorted(SHAPES), nargs="*")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="huge-record-"))
    work.mkdir(parents=True, exist_ok=True)
    print("| shape | record (MB) | read (s) | s per MB |")
    print("|---|---:|---:|---:|")
    for shape, write in SHAPES.items():
        if args.only and shape not in args.only:
            continue
        per_mb = []
        for mb in args.sizes:
            path = work / f"{shape}-{mb}.json"
            write(path, mb)
            size = path.stat().st_size / MB
            seconds = _time(path, args.rounds)
            per_mb.append(seconds / size)
            print(f"| {shape} | {size:.1f} | {seconds:.3f} | {seconds / size:.4f} |", flush=True)
            path.unlink()
        print(f"| {shape} | ratio largest/smallest s per MB: {per_mb[-1] / per_mb[0]:.2f} | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
