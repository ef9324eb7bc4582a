"""Which source format a parsed file is: by content, never by file name."""

from __future__ import annotations

from wizard.core.adapters import agentmemory, letta, letta_code, mem0, openmemory
from wizard.core.formats import Format, Payload, never_raises
from wizard.core.problems import Code, InputRefused
from wizard.core.storage import registry

# Order matters only where a format is a fallback (mem0's structured-export refusal is last).
FORMATS: tuple[Format, ...] = (
    agentmemory.FORMATS + openmemory.FORMATS + letta.FORMATS + letta_code.FORMATS + mem0.FORMATS
)
BY_ID: dict[str, Format] = {f.id: f for f in FORMATS}
# formats of a source's own storage: recognised by the storage reader, never by a JSON sniff
STORAGE = frozenset(layout.id for layout in registry.LAYOUTS) | {"mem0-install"}


def detect(payload: Payload) -> Format:
    """The format of a payload; InputRefused naming the formats tried and the closest one.
    A source's storage was recognised by its reader: its layout is its format."""
    if payload.layout is not None:
        return BY_ID[payload.layout]
    best: tuple[float, Format | None, str] = (0.0, None, "")
    for fmt in FORMATS:
        result = never_raises(fmt.sniff)(payload)
        if result.score >= 1.0:
            return fmt
        if result.score > best[0]:
            best = (result.score, fmt, result.note)
    tried = ", ".join(
        f.id for f in FORMATS if not f.id.endswith("structured-export") and f.id not in STORAGE
    )
    what = "JSON Lines" if payload.kind == "jsonl" else _describe(payload.value)
    message = f"no supported format matches this file ({what}). Tried: {tried}."
    _score, closest, note = best
    if closest is not None:
        message += f" Closest: {closest.id} ({closest.label})"
        message += f": {note}." if note else "."
    raise InputRefused(message, code=Code.UNKNOWN_FORMAT)


def _describe(value: object) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:6]) or "no keys"
        return f"an object with {keys}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a single {type(value).__name__} value"
