"""pydantic models of agentmemory's ExportData and its records (FORMATS.md section 1).

Every model allows extra fields, so a newer agentmemory's fields survive a round trip:
``ExportData.model_validate(d).model_dump(mode="json", exclude_unset=True) == d``.
Only what makes a record unusable is required (its key, and the types of the fields it has).
The pipeline keeps records as the plain dicts they were read as (the full source JSON) and uses
these models to validate them, in chunks (see ``validate_records``).
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import NotRequired, Required, TypedDict

Number = int | float


class Record(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class Origin(Record):
    channel: str
    detail: str | None = None
    capturedAt: str | None = None


class Session(Record):
    id: str
    project: str | None = None
    cwd: str | None = None
    startedAt: str | None = None
    endedAt: str | None = None
    status: str | None = None
    observationCount: int | None = None
    model: str | None = None
    tags: list[str] | None = None
    firstPrompt: str | None = None
    summary: str | None = None
    commitShas: list[str] | None = None
    agentId: str | None = None


class CompressedObservation(Record):
    id: str
    sessionId: str | None = None
    timestamp: str | None = None
    type: str | None = None
    title: str | None = None
    subtitle: str | None = None
    facts: list[str] | None = None
    narrative: str | None = None
    concepts: list[str] | None = None
    files: list[str] | None = None
    importance: Number | None = None
    confidence: Number | None = None
    modality: str | None = None
    imageRef: str | None = None
    agentId: str | None = None
    origin: Origin | None = None


class Memory(Record):
    id: str
    createdAt: str | None = None
    updatedAt: str | None = None
    type: str | None = None
    title: str | None = None
    content: str | None = None
    concepts: list[str] | None = None
    files: list[str] | None = None
    sessionIds: list[str] | None = None
    strength: Number | None = None
    version: Number | None = None
    parentId: str | None = None
    supersedes: list[str] | str | None = None
    relatedIds: list[str] | None = None
    sourceObservationIds: list[str] | None = None
    isLatest: bool | None = None
    forgetAfter: str | None = None
    agentId: str | None = None
    project: str | None = None
    origin: Origin | None = None


class SessionSummary(Record):
    sessionId: str
    project: str | None = None
    createdAt: str | None = None
    title: str | None = None
    narrative: str | None = None
    keyDecisions: list[str] | None = None
    filesModified: list[str] | None = None
    concepts: list[str] | None = None
    observationCount: int | None = None


class ProjectProfile(Record):
    project: str


class GraphNode(Record):
    id: str
    type: str | None = None
    name: str | None = None
    properties: dict[str, Any] | None = None
    sourceObservationIds: list[str] | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    aliases: list[str] | None = None


class GraphEdge(Record):
    id: str
    type: str | None = None
    sourceNodeId: str | None = None
    targetNodeId: str | None = None
    weight: Number | None = None
    sourceObservationIds: list[str] | None = None
    createdAt: str | None = None


class IdRecord(Record):
    """A record of any other collection: keyed by ``id``."""

    id: str


class AccessLog(Record):
    memoryId: str


class Pagination(Record):
    offset: int | None = None
    limit: int | None = None
    total: int | None = None
    hasMore: bool | None = None


class ExportData(Record):
    version: str | None = None
    exportedAt: str | None = None
    sessions: list[Session] = []
    observations: dict[str, list[CompressedObservation]] = {}
    memories: list[Memory] = []
    summaries: list[SessionSummary] = []
    profiles: list[ProjectProfile] | None = None
    graphNodes: list[GraphNode] | None = None
    graphEdges: list[GraphEdge] | None = None
    semanticMemories: list[IdRecord] | None = None
    proceduralMemories: list[IdRecord] | None = None
    actions: list[IdRecord] | None = None
    actionEdges: list[IdRecord] | None = None
    routines: list[IdRecord] | None = None
    signals: list[IdRecord] | None = None
    checkpoints: list[IdRecord] | None = None
    sentinels: list[IdRecord] | None = None
    sketches: list[IdRecord] | None = None
    crystals: list[IdRecord] | None = None
    facets: list[IdRecord] | None = None
    lessons: list[IdRecord] | None = None
    insights: list[IdRecord] | None = None
    accessLogs: list[AccessLog] | None = None
    pagination: Pagination | None = None


RECORD_MODELS: dict[str, type[Record]] = {
    "sessions": Session,
    "observations": CompressedObservation,
    "memories": Memory,
    "summaries": SessionSummary,
    "profiles": ProjectProfile,
    "graphNodes": GraphNode,
    "graphEdges": GraphEdge,
    "accessLogs": AccessLog,
}


def record_model(collection: str) -> type[Record]:
    return RECORD_MODELS.get(collection, IdRecord)


_ADAPTERS: dict[type[Record], TypeAdapter[list[Any]]] = {}
_CHECKED: dict[type[Record], Any] = {}
# TypedDict called with a name and fields computed at run time. mypy only understands its
# functional form with a literal name (a type it can see statically), so the call goes through
# this untyped name: the classes it makes are Any to the type checker (see _CHECKED).
_runtime_typed_dict: Any = TypedDict


def _checked(model: type[Record]) -> Any:
    """The fields of a record model as a TypedDict that ignores other fields: the same checks,
    about twice as fast, because pydantic builds no model instances and copies no extras
    (validation only looks; the records stay the dicts they were read as)."""
    checked = _CHECKED.get(model)
    if checked is None:
        _check_plain(model)
        fields = {
            name: (Required if info.is_required() else NotRequired)[_checked_type(info.annotation)]
            for name, info in model.model_fields.items()
        }
        checked = _runtime_typed_dict(f"{model.__name__}Fields", fields)
        checked.__pydantic_config__ = ConfigDict(extra="ignore")
        _CHECKED[model] = checked
    return checked


def _check_plain(model: type[Record]) -> None:
    """The TypedDict keeps only each field's type and whether it is required: refuse a model
    whose checks would be lost on the way (an alias, a constraint, a validator)."""
    decorators = model.__pydantic_decorators__
    lost = [
        name
        for name, info in model.model_fields.items()
        if info.alias or info.metadata or info.validation_alias
    ]
    if lost or decorators.field_validators or decorators.model_validators:
        raise TypeError(f"{model.__name__}: validate_records would not apply all its checks")


def _checked_type(annotation: Any) -> Any:
    """An annotation with each record model in it replaced by its TypedDict."""
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return _checked(annotation)
    args = typing.get_args(annotation)
    if not args:
        return annotation
    checked = tuple(_checked_type(a) for a in args)
    if checked == args:
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[checked]  # noqa: UP007 - built from a tuple
    return origin[checked]


def _list_adapter(model: type[Record]) -> TypeAdapter[list[Any]]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        # list[<the model's TypedDict>], spelled out: that TypedDict exists only at run time
        # (see _checked), so to mypy this is a value, not a type form TypeAdapter accepts.
        rows: Any = types.GenericAlias(list, (_checked(model),))
        adapter = _ADAPTERS[model] = TypeAdapter(rows)
    return adapter


def validate_records(collection: str, records: list) -> list[tuple[int, str, str]]:
    """Validate a chunk of records of one collection.

    Returns ``(index, field path, message)`` for every problem; an empty list when all are valid.
    """
    try:
        _list_adapter(record_model(collection)).validate_python(records)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_input=False):
            loc = err["loc"]
            index = loc[0] if loc and isinstance(loc[0], int) else -1
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
            problems.append((index, field, _message(err)))
        return problems
    return []


def _message(err: ErrorDetails) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "model_type" or kind == "dict_type":
        return "must be an object"
    if kind == "list_type":
        return "must be an array"
    if kind.startswith("string"):
        return "must be a string"
    return err.get("msg", "invalid value")
