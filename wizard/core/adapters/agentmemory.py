"""agentmemory's own ExportData, as one JSON document or as paginated JSON Lines."""

from __future__ import annotations

from itertools import pairwise

from wizard.core import versions as versions_rules
from wizard.core.collections import ALWAYS_PRESENT, empty_collection
from wizard.core.formats import NO_MATCH, Conversion, ConvertOptions, Format, Payload, Sniff
from wizard.core.problems import Code, InputRefused, Problem
from wizard.core.spool import CountedObject, RecordList, is_array

COLLECTION_KEYS = ("sessions", "memories", "observations")


def _looks_like_export(value: object) -> Sniff:
    if not isinstance(value, dict):
        return NO_MATCH
    present = [k for k in COLLECTION_KEYS if k in value]
    foreign = {"export_meta", "core_memory", "agents", "results", "kind"} & value.keys()
    memories = value.get("memories")
    mem0_items = isinstance(memories, list) and any(
        isinstance(m, dict) and "memory" in m for m in memories[:20]
    )
    if present and not foreign and not mem0_items:
        if "sessions" in value or "observations" in value or "version" in value:
            return Sniff(1.0)
        return Sniff(0.6, "has memories[] but neither version, sessions nor observations")
    if "version" in value and not foreign:
        return Sniff(0.4, "has a version but no sessions, memories or observations")
    return NO_MATCH


def sniff_json(payload: Payload) -> Sniff:
    if payload.kind != "json":
        return NO_MATCH
    return _looks_like_export(payload.value)


def sniff_jsonl(payload: Payload) -> Sniff:
    if payload.kind != "jsonl" or not isinstance(payload.value, list):
        return NO_MATCH
    scores = [_looks_like_export(page).score for page in payload.value]
    if scores and min(scores) == 1.0:
        return Sniff(1.0)
    good = sum(1 for s in scores if s == 1.0)
    if good:
        return Sniff(0.7, f"{good} of {len(scores)} lines are ExportData pages")
    return NO_MATCH


def convert_json(payload: Payload, options: ConvertOptions) -> Conversion:
    data = payload.value
    warnings = pagination_warnings([(None, data.get("pagination"))])
    return Conversion(
        data=data, source_version=_version_text(data.get("version")), warnings=warnings
    )


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def pagination_warnings(pages: list[tuple[int | None, object]]) -> list[Problem]:
    """Pages missing from a paginated export, from each page's ``pagination``
    (``offset``, ``limit``, ``total``, ``hasMore``): a gap between two pages' offsets, a first
    page that does not start at 0, a last page that says more follow, a total not reached.
    ``pages`` holds (line number or None for a single document, its pagination)."""
    known = [
        (line, p, _count(p.get("offset")), _count(p.get("limit")))
        for line, p in pages
        if isinstance(p, dict)
    ]
    if not known:
        return []

    def where(line: int | None) -> str:
        return f"the page on line {line}" if line is not None else "this file"

    found = []
    first_line, _first, offset, _limit = known[0]
    if offset:
        found.append(
            f"{where(first_line)} starts at record {offset}: records 0 to {offset - 1} "
            "are not in the file"
        )
    for (line_a, _a, off_a, lim_a), (line_b, _b, off_b, _lim) in pairwise(known):
        if off_a is None or lim_a is None or off_b is None:
            continue
        expected = off_a + lim_a
        if off_b > expected:
            found.append(
                f"records {expected} to {off_b - 1} are missing between {where(line_a)} and "
                f"{where(line_b)} (a page was left out)"
            )
        elif off_b < expected:
            found.append(f"{where(line_b)} repeats records from offset {off_b}")
    last_line, last, off_z, lim_z = known[-1]
    total = _count(last.get("total"))
    if last.get("hasMore") is True:
        found.append(f"{where(last_line)} says more pages follow (hasMore), but it is the last")
    elif total is not None and off_z is not None and lim_z is not None and off_z + lim_z < total:
        found.append(f"the export holds {total} records but its last page ends at {off_z + lim_z}")
    return [
        Problem("pagination", f"the export is incomplete: {text}", code=Code.INCOMPLETE_EXPORT)
        for text in found
    ]


def _version_text(version: object) -> str | None:
    return version if isinstance(version, str) else None


def _joined(target: list | RecordList | None, more: list | RecordList) -> list | RecordList:
    """``target`` followed by ``more`` (a new list when ``target`` is None); a RecordList when
    either is one, sharing the spool's chunks."""
    if target is None:
        return more if isinstance(more, RecordList) else list(more)
    if isinstance(more, RecordList) and not isinstance(target, RecordList):
        target = RecordList(more.spool, target)
    target.extend(more)
    return target


def convert_jsonl(payload: Payload, options: ConvertOptions) -> Conversion:
    """Merge the pages in order: collections are concatenated, observation buckets extended."""
    pages = payload.value
    merged: dict = {}
    warnings: list[Problem] = []
    versions = []
    paginations: list[tuple[int | None, object]] = []
    for line_no, page in enumerate(pages, start=1):
        versions.append(page.get("version"))
        paginations.append((line_no, page.get("pagination")))
        for key, value in page.items():
            if key in ("version", "exportedAt"):
                merged.setdefault(key, value)
            elif key == "pagination":
                merged[key] = value
            elif key == "observations":
                if not isinstance(value, dict):
                    raise InputRefused(
                        "observations must be an object of session id -> array",
                        path=f"line {line_no}: observations",
                        code=Code.WRONG_SHAPE,
                    )
                bucket_map = merged.setdefault("observations", {})
                if isinstance(value, CountedObject):  # more buckets than kept: counted
                    if not isinstance(bucket_map, CountedObject):
                        bucket_map = merged["observations"] = CountedObject(value.path, bucket_map)
                    bucket_map.more_keys += value.more_keys
                    bucket_map.more_records += value.more_records
                    if value.more_largest > bucket_map.more_largest:
                        bucket_map.more_largest = value.more_largest
                        bucket_map.more_largest_key = value.more_largest_key
                for sid, bucket in value.items():
                    if not is_array(bucket):
                        raise InputRefused(
                            "must be an array",
                            path=f"line {line_no}: observations.{sid}",
                            code=Code.WRONG_SHAPE,
                        )
                    bucket_map[sid] = _joined(bucket_map.get(sid), bucket)
            elif is_array(value):
                target = merged.get(key)
                if target is not None and not is_array(target):
                    raise InputRefused(
                        "must be an array", path=f"line {line_no}: {key}", code=Code.WRONG_SHAPE
                    )
                merged[key] = _joined(target, value)
            elif key not in merged:
                merged[key] = value
    # The file's version is the first page's, even when that page has none.
    if versions and versions[0] is None:
        merged.pop("version", None)
    elif versions:
        merged["version"] = versions[0]
    errors: list[Problem] = []
    # Every page is an ExportData: each one's version must be supported (FORMATS.md section 2).
    # The first page's version is the file's, checked by preflight with the rest of the file.
    if options.treat_as_version is None:
        for line_no, version in enumerate(versions[1:], start=2):
            if not versions_rules.is_supported(version):
                message = f"page on line {line_no}: {versions_rules.unsupported_message(version)}"
                code = Code.VERSION_MISSING if version is None else Code.VERSION_UNSUPPORTED
                errors.append(Problem("version", message, code=code))
    distinct = {v for v in versions if v is not None}
    if len(distinct) > 1:
        warnings.append(
            Problem(
                "version",
                f"pages have different versions: {', '.join(sorted(map(str, distinct)))}; "
                "the first one is used",
                code=Code.VERSION_MIXED,
            )
        )
    merged.pop("pagination", None)
    warnings.extend(pagination_warnings(paginations))
    for name in ALWAYS_PRESENT:
        merged.setdefault(name, empty_collection(name))
    warnings.append(Problem("", f"{len(pages)} pages merged in order", code=Code.CONVERSION_NOTE))
    return Conversion(
        data=merged,
        source_version=_version_text(merged.get("version")),
        errors=errors,
        warnings=warnings,
    )


FORMATS: tuple[Format, ...] = (
    Format(
        "agentmemory",
        "agentmemory export (ExportData JSON)",
        sniff_json,
        convert_json,
        streams=True,
    ),
    Format(
        "agentmemory-jsonl",
        "agentmemory paginated export (JSON Lines)",
        sniff_jsonl,
        convert_jsonl,
        streams=True,
    ),
)
AGENTMEMORY_FORMATS = frozenset(f.id for f in FORMATS)
