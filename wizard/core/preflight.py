"""Preflight: shape, version, record validation, caps. Builds the report; writes nothing.

Shape errors come first (FORMATS.md section 3); then the version of an agentmemory file
(section 2); then every record is validated against wizard.core.schema in chunks (so a worker
thread never holds the GIL for long and cancel is honoured); caps last, all of them reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from wizard.core import versions
from wizard.core.adapters.agentmemory import AGENTMEMORY_FORMATS
from wizard.core.caps import check_caps
from wizard.core.collections import (
    META_KEYS,
    collection,
    collection_names,
    count_records,
    iter_records,
)
from wizard.core.fastjson import escaped
from wizard.core.formats import Conversion
from wizard.core.names import Phase
from wizard.core.problems import Cancelled, Code, Problem
from wizard.core.report import Report
from wizard.core.spool import RecordList, is_array, iter_chunks
from wizard.core.validation import (
    LONE_SURROGATE,
    RecordValidator,
    bucket_path,
    chunk_invalid,
    lone_surrogate_message,
)

CHUNK = 2000
ARRAY_COLLECTIONS = ("sessions", "memories", "summaries")


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


def shape_errors(data: dict) -> list[Problem]:
    errors = []
    for name in ARRAY_COLLECTIONS:
        if name in data and not is_array(data[name]):
            errors.append(
                Problem(name, f"must be an array, found {_kind(data[name])}", code=Code.WRONG_SHAPE)
            )
    obs = data.get("observations")
    if "observations" in data:
        if not isinstance(obs, dict):
            errors.append(
                Problem(
                    "observations",
                    f"must be an object of session id -> array, found {_kind(obs)}",
                    code=Code.WRONG_SHAPE,
                )
            )
        else:
            for sid, bucket in obs.items():
                if not is_array(bucket):
                    errors.append(
                        Problem(
                            bucket_path("observations", sid),
                            f"must be an array, found {_kind(bucket)}",
                            code=Code.WRONG_SHAPE,
                        )
                    )
    for name in collection_names(data):
        if name not in ARRAY_COLLECTIONS and name != "observations" and not is_array(data[name]):
            errors.append(
                Problem(name, f"must be an array, found {_kind(data[name])}", code=Code.WRONG_SHAPE)
            )
    return errors


def _chunks(data: dict, name: str) -> Iterator[tuple[str | None, int, list[Any]]]:
    """(bucket, start index, records) chunks of one collection, in order."""
    runs = data["observations"].items() if name == "observations" else [(None, data[name])]
    for bucket, records in runs:
        start = 0
        for chunk in iter_chunks(records, CHUNK):
            yield bucket, start, chunk
            start += len(chunk)


def check(
    data: dict,
    format_id: str,
    conversion: Conversion | None = None,
    *,
    skip_invalid: bool = False,
    treat_as_version: str | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    validated: RecordValidator | None = None,
    surrogates: bool = False,
) -> Report:
    """Check canonical data. With ``skip_invalid`` the invalid records are removed from ``data``
    (in place) and listed in ``Report.skipped_invalid``. ``validated``: a validator that was
    fed every record of ``data`` already (by the reader), in place of validating them here.
    ``surrogates``: the text held a surrogate escape (``FileFacts.surrogates``): a record
    whose key or column fields hold a lone one is invalid."""
    report = Report(ok=True, format=format_id)
    if conversion is not None:
        report.source_version = conversion.source_version
        report.errors.extend(conversion.errors)
        report.warnings.extend(conversion.warnings)
        report.left_behind.extend(conversion.left_behind)
    shape = shape_errors(data)
    if shape:
        report.errors[:0] = shape
        report.ok = False
        return report

    if format_id in AGENTMEMORY_FORMATS:
        _check_version(data, report, treat_as_version)

    # Caps on the file as read: before repeated keys, orphan access logs or invalid records
    # are left out.
    report.caps = check_caps(data)
    if validated is not None:  # read and validated by the reader (agentmemory's own file)
        if cancel is not None and cancel():
            raise Cancelled()
        invalid, repeated = validated.finish(report.warnings)
        invalid_total, invalid_in = validated.invalid_total, validated.invalid_in
    else:
        invalid, invalid_total, invalid_in, repeated = _validate(
            data, report.warnings, progress, cancel, surrogates
        )
    more = invalid_total - len(invalid)
    if invalid_total:
        if skip_invalid:
            _remove_invalid(data, invalid_in, cancel, surrogates)
            report.skipped_invalid = [p for p, _ in sorted(invalid.items())]
            report.skipped_invalid_total = invalid_total
            report.warnings.append(
                Problem(
                    "",
                    f"{invalid_total} invalid records left out, as "
                    "asked (import only the valid records)",
                    code=Code.INVALID_RECORDS_SKIPPED,
                )
            )
        else:
            # Exactly the records skip_invalid would leave out (see _remove_invalid).
            report.errors.extend(
                Problem(path, message, code=Code.INVALID_RECORD)
                for path, message in invalid.items()
            )
            if more:
                report.errors.append(
                    Problem(
                        "",
                        f"and {more:,} more invalid records ({invalid_total:,} in all)",
                        code=Code.INVALID_RECORD,
                    )
                )
    # After invalid records are gone (their paths are positions in the file as read): the last
    # valid record of a repeated key wins.
    for name, keys in repeated:
        _keep_last_of_each_key(data, name, collection(name).key, keys, cancel)
    _drop_orphan_access_logs(data, report)
    _warn_unimported_fields(data, report)
    report.counts = {name: count_records(data, name) for name in collection_names(data)}
    for cap in report.caps:
        if not cap.ok:
            where = f" ({cap.detail})" if cap.detail else ""
            report.errors.append(
                Problem(cap.name, f"{cap.message}: {cap.count}{where}", code=Code.CAP_EXCEEDED)
            )
    report.ok = not report.errors
    return report


def lone_surrogate_in_names(data: Any) -> Problem | None:
    """The first name of canonical data that holds a lone surrogate (a JSON "\\ud800" escape
    alone), which the store would keep as text: the version, a collection's name, an
    observation bucket's (its session id). Looked at only when the text held such an escape;
    in records, keys and column fields are the validator's."""
    if not isinstance(data, dict):
        return None
    version = data.get("version")
    if isinstance(version, str) and LONE_SURROGATE.search(version):
        return Problem("version", lone_surrogate_message(version), code=Code.LONE_SURROGATE)
    for name in data:
        if isinstance(name, str) and LONE_SURROGATE.search(name):
            return Problem(
                escaped(json.dumps(name, ensure_ascii=False)),
                f"a collection name {lone_surrogate_message(name)}",
                code=Code.LONE_SURROGATE,
            )
    buckets = data.get("observations")
    if isinstance(buckets, dict):
        for sid in buckets:
            if isinstance(sid, str) and LONE_SURROGATE.search(sid):
                return Problem(
                    bucket_path("observations", sid),
                    f"a session id {lone_surrogate_message(sid)}",
                    code=Code.LONE_SURROGATE,
                )
    return None


def _check_version(data: dict, report: Report, treat_as_version: str | None) -> None:
    version = data.get("version")
    if versions.is_supported(version):
        return
    if treat_as_version is not None and versions.is_supported(treat_as_version):
        report.treated_as_version = treat_as_version
        report.warnings.append(
            Problem(
                "version",
                f"{versions.unsupported_message(version)}; "
                f"read as version {treat_as_version}, as chosen",
                code=Code.VERSION_OVERRIDDEN,
            )
        )
        return
    code = Code.VERSION_MISSING if version is None else Code.VERSION_UNSUPPORTED
    report.errors.append(Problem("version", versions.unsupported_message(version), code=code))


def _validate(
    data: dict,
    warnings: list[Problem],
    progress: Callable[[str, int, int], None] | None,
    cancel: Callable[[], bool] | None,
    surrogates: bool = False,
) -> tuple[dict[str, str], int, set[tuple[str, str | None]], list[tuple[str, set[str]]]]:
    """Validate every record (a RecordValidator fed chunk by chunk): the first invalid ones
    ({path: message}), how many there are, the arrays holding them, and the collections with
    repeated keys."""
    validator = RecordValidator(surrogates)
    names = collection_names(data)
    total = sum(count_records(data, n) for n in names)
    done = 0
    for name in names:
        for bucket, start, chunk in _chunks(data, name):
            if cancel is not None and cancel():
                raise Cancelled()
            validator.feed(name, bucket, start, chunk)
            done += len(chunk)
            if progress is not None:
                progress(Phase.VALIDATING, done, total)
    invalid, repeated = validator.finish(warnings)
    return invalid, validator.invalid_total, validator.invalid_in, repeated


def keep_last_of_repeated_keys(data: dict) -> None:
    """Leave one record per key in each collection of ``data`` (the last one), as ``check``
    does; for canonical data that did not pass through it."""
    for name in collection_names(data):
        if name != "observations" and not is_array(data[name]):
            continue
        if name == "observations" and not isinstance(data[name], dict):
            continue
        key_field = collection(name).key
        seen: set[str] = set()
        repeated: set[str] = set()
        runs = data[name].values() if name == "observations" else [data[name]]
        for records in runs:
            if not is_array(records):
                continue
            for chunk in iter_chunks(records, CHUNK):
                for record in chunk:
                    key = record.get(key_field) if isinstance(record, dict) else None
                    if isinstance(key, str) and key:
                        if key in seen:
                            repeated.add(key)
                        seen.add(key)
        seen.clear()
        if repeated:
            _keep_last_of_each_key(data, name, key_field, repeated)


def _keep_last_of_each_key(
    data: dict,
    name: str,
    key_field: str,
    repeated: set[str],
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Drop the earlier records of a repeated key: the last one wins (and it is the only one
    the plan and the import see, so a re-import counts it once). One pass counts how often
    each repeated key comes (and where), a second keeps only its last record, rebuilding only
    the arrays that hold one."""

    def key_of(record: object) -> str | None:
        key = record.get(key_field) if isinstance(record, dict) else None
        return key if isinstance(key, str) and key in repeated else None

    left: Counter = Counter()
    arrays = list(data["observations"].values()) if name == "observations" else [data[name]]
    holding: set[int] = set()  # the arrays (by position) holding a repeated key
    for position, records in enumerate(arrays):
        for chunk in iter_chunks(records, CHUNK):
            _check(cancel)
            found = [k for r in chunk if (k := key_of(r)) is not None]
            if found:
                left.update(found)
                holding.add(position)

    def kept(records: list | RecordList) -> list | RecordList:
        out: list | RecordList = (
            RecordList(records.spool) if isinstance(records, RecordList) else []
        )
        for chunk in iter_chunks(records, CHUNK):
            _check(cancel)
            for record in chunk:
                key = key_of(record)
                if key is not None:
                    left[key] -= 1
                    if left[key]:
                        continue  # a later record has the same key
                out.append(record)
        return out

    if name == "observations":
        buckets = data["observations"]
        for position, sid in enumerate(list(buckets)):
            if position in holding:
                buckets[sid] = kept(buckets[sid])
    elif holding:
        data[name] = kept(data[name])


def _check(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled()


def _without_invalid(
    records: list | RecordList,
    name: str,
    key_field: str,
    cancel: Callable[[], bool] | None,
    surrogates: bool = False,
) -> Any:
    out: list | RecordList = RecordList(records.spool) if isinstance(records, RecordList) else []
    for chunk in iter_chunks(records, CHUNK):
        _check(cancel)
        found = chunk_invalid(name, key_field, chunk, surrogates=surrogates)
        out.extend(r for i, r in enumerate(chunk) if i not in found)
    return out


def _remove_invalid(
    data: dict,
    where: set[tuple[str, str | None]],
    cancel: Callable[[], bool] | None = None,
    surrogates: bool = False,
) -> None:
    """Leave out the invalid records (validated again, chunk by chunk: the same ones), in the
    arrays ``where`` they are ((collection, bucket)); the others are left as they are."""
    for name in collection_names(data):
        key_field = collection(name).key
        if name == "observations":
            buckets = data["observations"]
            for sid in list(buckets):
                if (name, sid) in where:
                    buckets[sid] = _without_invalid(
                        buckets[sid], name, key_field, cancel, surrogates
                    )
        elif (name, None) in where:
            data[name] = _without_invalid(data[name], name, key_field, cancel, surrogates)


def _warn_unimported_fields(data: dict, report: Report) -> None:
    """Top-level fields that are neither a collection nor ExportData's own are not imported."""
    names = set(collection_names(data))
    for key, value in data.items():
        if key not in names and key not in META_KEYS and key != "observations":
            report.warnings.append(
                Problem(
                    key,
                    f"top-level field holding {_kind(value)} is not a collection of "
                    "records; it is not imported",
                    code=Code.DATA_DROPPED,
                )
            )


def _drop_orphan_access_logs(data: dict, report: Report) -> None:
    """Access logs are kept only for memories present in the same import (FORMATS.md 1)."""
    logs = data.get("accessLogs")
    if not logs:
        return
    memory_ids = {
        m.get("id")
        for m in iter_records(data, "memories")
        if isinstance(m, dict) and isinstance(m.get("id"), str)
    }
    kept: list | RecordList = RecordList(logs.spool) if isinstance(logs, RecordList) else []
    for chunk in iter_chunks(logs, CHUNK):
        kept.extend(
            log for log in chunk if isinstance(log, dict) and log.get("memoryId") in memory_ids
        )
    if len(kept) != len(logs):
        report.warnings.append(
            Problem(
                "accessLogs",
                f"{len(logs) - len(kept)} access logs "
                "belong to memories not in this file; left out",
                code=Code.DANGLING_REFERENCE,
            )
        )
        data["accessLogs"] = kept
