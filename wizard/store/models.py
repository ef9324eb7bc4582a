"""The peewee models of the store: one table per main collection, one for the others, audit.

The models describe the current schema (its table and column names are where the importer's
SQL comes from); the tables themselves are created by the numbered migrations in
``migrations.py``, which are frozen and never import these classes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from peewee import (
    AutoField,
    BlobField,
    CompositeKey,
    DatabaseProxy,
    IntegerField,
    Model,
    TextField,
)

# Bound by ``database.open_store`` to the most recently opened store. Store code itself always
# runs its SQL on ``Store.database`` explicitly, so several stores may be open at once.
db = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class SchemaVersion(BaseModel):
    """The one row saying which schema the file holds."""

    id = IntegerField(primary_key=True)
    version = IntegerField()
    app_version = TextField(null=True)
    updated_at = TextField(null=True)

    class Meta:
        table_name = "schema_version"


class RecordModel(BaseModel):
    """Columns every data table has: the full record JSON, its content hash, and the audit id of
    the import that last wrote the row (what ``revert`` relies on)."""

    # record field -> column, for the columns people filter on (the key is the primary key;
    # which field keys a collection is said by wizard.core.collections)
    record_fields: dict[str, str] = {}
    # record fields whose text the full-text index holds (none: the table is not indexed);
    # changing them changes SEARCH_VERSION
    search_fields: tuple[str, ...] = ()

    hash = BlobField()
    data = TextField()
    last_audit = IntegerField(null=True)


class SessionRow(RecordModel):
    id = TextField(primary_key=True)
    project = TextField(null=True, index=True)
    started_at = TextField(null=True, index=True)
    record_fields = {"project": "project", "startedAt": "started_at"}
    search_fields = ("project", "firstPrompt", "summary")

    class Meta:
        table_name = "sessions"


class ObservationRow(RecordModel):
    id = TextField(primary_key=True)
    session_id = TextField(null=True, index=True)
    timestamp = TextField(null=True, index=True)
    type = TextField(null=True, index=True)
    # the session id under which the record sat in ExportData.observations
    bucket = TextField()
    record_fields = {"sessionId": "session_id", "timestamp": "timestamp", "type": "type"}
    search_fields = ("title", "facts")  # narrative: too dear at import (bench/RESULTS.md)

    class Meta:
        table_name = "observations"


class MemoryRow(RecordModel):
    id = TextField(primary_key=True)
    type = TextField(null=True, index=True)
    created_at = TextField(null=True, index=True)
    project = TextField(null=True, index=True)
    record_fields = {"type": "type", "createdAt": "created_at", "project": "project"}
    search_fields = ("title", "content")

    class Meta:
        table_name = "memories"


class SummaryRow(RecordModel):
    session_id = TextField(primary_key=True)
    project = TextField(null=True, index=True)
    record_fields = {"project": "project"}
    search_fields = ("title", "narrative", "keyDecisions")

    class Meta:
        table_name = "summaries"


class ProfileRow(RecordModel):
    project = TextField(primary_key=True)

    class Meta:
        table_name = "profiles"


class GraphNodeRow(RecordModel):
    id = TextField(primary_key=True)
    type = TextField(null=True, index=True)
    name = TextField(null=True, index=True)
    record_fields = {"type": "type", "name": "name"}
    search_fields = ("name",)

    class Meta:
        table_name = "graph_nodes"


class GraphEdgeRow(RecordModel):
    id = TextField(primary_key=True)
    source_node_id = TextField(null=True, index=True)
    target_node_id = TextField(null=True, index=True)
    type = TextField(null=True, index=True)
    record_fields = {
        "sourceNodeId": "source_node_id",
        "targetNodeId": "target_node_id",
        "type": "type",
    }
    search_fields = ("type",)

    class Meta:
        table_name = "graph_edges"


class OtherRecordRow(RecordModel):
    """Every collection without a table of its own, by collection name and key."""

    collection = TextField()
    key = TextField()

    class Meta:
        table_name = "other_records"
        primary_key = CompositeKey("collection", "key")


class AuditEntry(BaseModel):
    """One attempt at a run that was asked to write (``wizard.core.names.Operation``), with its
    ``Outcome``."""

    id = AutoField()
    timestamp = TextField()
    operation = TextField()  # an Operation
    strategy = TextField(null=True)
    outcome = TextField()  # an Outcome
    format = TextField(null=True)
    source_version = TextField(null=True)
    source_path = TextField(null=True)
    source_name = TextField(null=True)
    source_size = IntegerField(null=True)
    source_sha256 = TextField(null=True)
    schema_version = IntegerField(null=True)
    counts = TextField(null=True)  # JSON
    caps = TextField(null=True)  # JSON
    error = TextField(null=True)
    duration_ms = IntegerField(null=True)
    app_version = TextField(null=True)
    user = TextField(null=True)
    target_id = IntegerField(null=True)  # revert: the import it reverted
    reverted_by = IntegerField(null=True)  # import: the revert entry that undid it
    options = TextField(null=True)  # JSON; added by migration 2
    error_code = TextField(null=True)  # ErrorKind or a problem Code; added by migration 3

    class Meta:
        table_name = "audit_log"


class ChangeRow(BaseModel):
    """The previous version of a record a successful import overwrote or deleted.

    Records the import inserted have no row here: they carry its audit id in ``last_audit``.
    """

    audit_id = IntegerField()
    collection = TextField()
    key = TextField()
    prev_rowid = IntegerField(null=True)
    prev_data = TextField()
    prev_hash = BlobField()
    prev_bucket = TextField(null=True)
    prev_last_audit = IntegerField(null=True, index=True)

    class Meta:
        table_name = "audit_changes"
        primary_key = CompositeKey("audit_id", "collection", "key")


class SearchIndexRow(BaseModel):
    """Which version of the indexed fields the full-text index holds: ``SEARCH_VERSION`` when it
    is in step with the records, anything else (0: never built) when it must be built again
    (``store.browse.index_steps``) and writes leave it alone until then. One row, id 1."""

    id = IntegerField(primary_key=True)
    version = IntegerField()
    built_at = TextField(null=True)

    class Meta:
        table_name = "search_index"


class DeliveryRow(BaseModel):
    """One delivery of (part of) the store to a running agentmemory (docs/DELIVERY.md)."""

    id = AutoField()
    created_at = TextField()
    url = TextField()
    strategy = TextField()
    scope = TextField()  # "store" or "import:<audit id>"
    with_source = IntegerField()
    fingerprint = TextField()  # the store as it was when the delivery was planned
    declared_version = TextField(null=True)
    state = TextField()  # open, done

    class Meta:
        table_name = "deliveries"


class DeliveryChunkRow(BaseModel):
    """One request of a delivery, recorded before it is sent."""

    delivery_id = IntegerField()
    number = IntegerField()  # 0: the wipe of a replace
    hash = TextField()
    keys = TextField()  # JSON: collection -> keys
    counts = TextField()  # JSON: collection -> records
    bytes = IntegerField()
    state = TextField()  # pending, sent, acknowledged
    answer = TextField(null=True)  # JSON: the server's answer

    class Meta:
        table_name = "delivery_chunks"
        primary_key = CompositeKey("delivery_id", "number")


# collection name -> model of its own table
MAIN_TABLES: dict[str, type[RecordModel]] = {
    "sessions": SessionRow,
    "observations": ObservationRow,
    "memories": MemoryRow,
    "summaries": SummaryRow,
    "profiles": ProfileRow,
    "graphNodes": GraphNodeRow,
    "graphEdges": GraphEdgeRow,
}
DATA_MODELS: tuple[type[RecordModel], ...] = (*MAIN_TABLES.values(), OtherRecordRow)
ALL_MODELS: tuple[type[BaseModel], ...] = (
    SchemaVersion,
    *DATA_MODELS,
    AuditEntry,
    ChangeRow,
    DeliveryRow,
    DeliveryChunkRow,
    SearchIndexRow,
)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableSpec:
    """A data table as the bulk SQL sees it, derived from its model's metadata.

    Row tuples for ``upsert_sql``: own table ``(key, *columns, [bucket], hash, data,
    last_audit)``; ``other_records`` ``(collection, key, hash, data, last_audit)``.
    """

    model: type[RecordModel]

    @property
    def table(self) -> str:
        return self.model._meta.table_name

    @property
    def generic(self) -> bool:
        return self.model is OtherRecordRow

    @property
    def key_column(self) -> str:
        if self.generic:
            return "key"
        key = self.model._meta.primary_key
        assert key, f"{self.table} has a primary key"
        return str(key.column_name)

    @property
    def has_bucket(self) -> bool:
        return "bucket" in self.model._meta.fields

    @cached_property
    def extract(self) -> tuple[tuple[str, str], ...]:
        """(record field, column) for the columns people filter on."""
        return tuple(
            (f, self.model._meta.fields[c].column_name) for f, c in self.model.record_fields.items()
        )

    @cached_property
    def write_columns(self) -> tuple[str, ...]:
        if self.generic:
            return ("collection", "key", "hash", "data", "last_audit")
        cols = [self.key_column, *(c for _, c in self.extract)]
        if self.has_bucket:
            cols.append("bucket")
        return (*cols, "hash", "data", "last_audit")

    @cached_property
    def conflict_columns(self) -> tuple[str, ...]:
        return ("collection", "key") if self.generic else (self.key_column,)

    @cached_property
    def upsert_sql(self) -> str:
        cols = ", ".join(_q(c) for c in self.write_columns)
        marks = ", ".join("?" for _ in self.write_columns)
        target = ", ".join(_q(c) for c in self.conflict_columns)
        sets = ", ".join(
            f"{_q(c)} = excluded.{_q(c)}"
            for c in self.write_columns
            if c not in self.conflict_columns
        )
        return (
            f"INSERT INTO {_q(self.table)} ({cols}) VALUES ({marks}) "
            f"ON CONFLICT ({target}) DO UPDATE SET {sets}"
        )

    @cached_property
    def restore_sql(self) -> str:
        """Put a previous version back at its old rowid when that is free (else SQLite chooses
        one, so export order is kept where it can be); parameters: (rowid, rowid, *row)."""
        table = _q(self.table)
        cols = ", ".join(_q(c) for c in self.write_columns)
        marks = ", ".join("?" for _ in self.write_columns)
        return (
            f"INSERT INTO {table} (rowid, {cols}) VALUES ((SELECT CASE WHEN EXISTS (SELECT 1 FROM"
            f" {table} WHERE rowid = ?) THEN NULL ELSE ? END), {marks})"
        )

    @cached_property
    def count_sql(self) -> str:
        """How many rows there are among some keys (params as for ``lookup_sql``)."""
        return self.lookup_sql.replace(
            f"SELECT {_q(self.key_column)}, hash FROM", "SELECT count(*) FROM", 1
        )

    @cached_property
    def lookup_sql(self) -> str:
        """(key, hash) of the rows among some keys (params: the keys as a JSON array [, the
        collection])."""
        where = ' AND "collection" = ?' if self.generic else ""
        return (
            f"SELECT {_q(self.key_column)}, hash FROM {_q(self.table)} WHERE"
            f" {_q(self.key_column)} IN (SELECT value FROM json_each(?)){where}"
        )

    @cached_property
    def _prev_columns(self) -> str:
        bucket = '"bucket"' if self.has_bucket else "NULL"
        return f"{_q(self.key_column)}, rowid, data, hash, {bucket}, last_audit"

    @cached_property
    def log_many_sql(self) -> str:
        """Keep the previous version of some records unless this import wrote them already
        (params: audit id, collection, the keys as a JSON array, audit id)."""
        select = "collection" if self.generic else "?"
        where = '"collection" = ? AND ' if self.generic else ""
        return (
            "INSERT OR IGNORE INTO audit_changes (audit_id, collection, key, prev_rowid,"
            " prev_data, prev_hash, prev_bucket, prev_last_audit)"
            f" SELECT ?, {select}, {self._prev_columns} FROM {_q(self.table)} WHERE {where}"
            f"{_q(self.key_column)} IN (SELECT value FROM json_each(?)) AND last_audit IS NOT ?"
        )

    @cached_property
    def log_all_sql(self) -> str:
        """Keep the previous version of every row (params: audit id [, collection name])."""
        if self.generic:
            select = f"SELECT ?, collection, {self._prev_columns} FROM {_q(self.table)}"
        else:
            select = f"SELECT ?, ?, {self._prev_columns} FROM {_q(self.table)}"
        return (
            "INSERT OR IGNORE INTO audit_changes (audit_id, collection, key, prev_rowid,"
            f" prev_data, prev_hash, prev_bucket, prev_last_audit) {select}"
        )

    @cached_property
    def row_builder(self) -> Callable[..., tuple]:
        """A function ``(collection, key, record, bucket, digest, text, audit_id) -> row``,
        generated as straight-line code: it runs once per imported record."""
        if self.generic:
            return lambda collection, key, record, bucket, digest, text, audit_id: (
                collection,
                key,
                digest,
                text,
                audit_id,
            )
        lines = ["def build(collection, key, record, bucket, digest, text, audit_id):"]
        lines.append("    get = record.get")
        values = ["key"]
        for i, (field, _) in enumerate(self.extract):
            lines.append(f"    v{i} = get({field!r})")
            lines.append(f"    if v{i} is not None and v{i}.__class__ is not str:")
            lines.append(f"        v{i} = column_value(v{i})")
            values.append(f"v{i}")
        if self.has_bucket:
            values.append('bucket if bucket is not None else ""')
        values += ["digest", "text", "audit_id"]
        lines.append(f"    return ({', '.join(values)},)")
        namespace: dict[str, Any] = {"column_value": column_value}
        exec("\n".join(lines), namespace)
        return namespace["build"]

    def row(
        self,
        collection: str,
        key: str,
        record: dict,
        bucket: str | None,
        digest: bytes,
        text: str,
        audit_id: int | None,
    ) -> tuple:
        """The row tuple for ``upsert_sql``."""
        return self.row_builder(collection, key, record, bucket, digest, text, audit_id)

    # -- the full-text index (schema 5; the store browser) -----------------------------------
    # Contentless FTS5 tables: a row is removed by giving the text it was indexed with again,
    # which is read from the record's JSON by the same expression; so the expression (the
    # model's search_fields) never changes without SEARCH_VERSION.

    @property
    def search_table(self) -> str | None:
        """The FTS5 table indexing this table's records (None: not indexed)."""
        return f"search_{self.table}" if self.model.search_fields else None

    def search_text(self, data: str) -> str:
        """SQL: the indexed text of the record whose JSON is the expression ``data``: its search
        fields (strings as they are, arrays as their JSON text), space-separated."""
        return " || ' ' || ".join(
            f"coalesce(json_extract({data}, '$.{f}'), '')" for f in self.model.search_fields
        )

    def _search_values(self, data: str) -> str:
        """SQL: what decides whether the indexed text of a record changed (one JSON parse)."""
        paths = ", ".join(f"'$.{f}'" for f in self.model.search_fields)
        return f"json_extract({data}, {paths})"

    def _search_sql(self, template: str) -> str:
        table = self.search_table
        assert table is not None, f"{self.table} is not indexed"
        return template.format(s=_q(table), t=_q(self.table))

    @cached_property
    def search_insert_after_sql(self) -> str:
        """Index the rows after a rowid (those a run inserted; params: the rowid)."""
        return self._search_sql(
            f"INSERT INTO {{s}} (rowid, text) SELECT rowid, {self.search_text('data')} FROM {{t}}"
            " WHERE rowid > ?"
        )

    @cached_property
    def search_changed_sql(self) -> tuple[str, str, str, str, str]:
        """The statements that have the index follow the rows a run overwrote: make and empty a
        temporary table; note the rows whose indexed fields changed, with their previous text
        (params: audit id, collection, the keys as a JSON array; the previous versions are the
        ones just kept for revert, so this runs after the overwrite); remove that text; index
        the new one. A record written again with the same indexed fields costs a comparison."""
        changed = "temp.search_changed"
        return (
            f"CREATE TEMP TABLE IF NOT EXISTS {changed} (id INTEGER PRIMARY KEY, text TEXT)",
            f"DELETE FROM {changed}",
            self._search_sql(
                f"INSERT INTO {changed} (id, text) SELECT c.prev_rowid,"
                f" {self.search_text('c.prev_data')} FROM audit_changes c JOIN {{t}} t"
                " ON t.rowid = c.prev_rowid WHERE c.audit_id = ? AND c.collection = ?"
                " AND c.key IN (SELECT value FROM json_each(?)) AND"
                f" {self._search_values('c.prev_data')} IS NOT {self._search_values('t.data')}"
            ),
            self._search_sql(
                f"INSERT INTO {{s}} ({{s}}, rowid, text) SELECT 'delete', id, text FROM {changed}"
            ),
            self._search_sql(
                f"INSERT INTO {{s}} (rowid, text) SELECT t.rowid, {self.search_text('t.data')}"
                f" FROM {changed} c JOIN {{t}} t ON t.rowid = c.id"
            ),
        )

    def search_unindex_where_sql(self, where: str) -> str:
        """Remove the rows meeting ``where`` (a WHERE clause, or "") from the index; run it
        before deleting them."""
        return (
            self._search_sql(
                f"INSERT INTO {{s}} ({{s}}, rowid, text) SELECT 'delete', rowid,"
                f" {self.search_text('data')} FROM {{t}}"
            )
            + where
        )

    def search_index_where_sql(self, where: str) -> str:
        """Index the rows meeting ``where`` (a WHERE clause, or "")."""
        return (
            self._search_sql(
                f"INSERT INTO {{s}} (rowid, text) SELECT rowid, {self.search_text('data')}"
                " FROM {t}"
            )
            + where
        )

    @cached_property
    def search_clear_sql(self) -> str:
        """Empty the index (every row of the table is going, or it is built again)."""
        return self._search_sql("INSERT INTO {s} ({s}) VALUES ('delete-all')")


def column_value(value: object) -> object:
    """What an indexed column holds for a record field: scalars as they are, else JSON text."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


SPECS: dict[str, TableSpec] = {name: TableSpec(model) for name, model in MAIN_TABLES.items()}
OTHER_SPEC = TableSpec(OtherRecordRow)
ALL_SPECS: tuple[TableSpec, ...] = (*SPECS.values(), OTHER_SPEC)
# the tables the full-text index covers, in collection order
SEARCH_SPECS: tuple[TableSpec, ...] = tuple(s for s in SPECS.values() if s.search_table)
# The version of the indexed fields (the models' search_fields and TableSpec.search_text): a
# store whose index holds another one has it built again (store.browse.index_steps), and writes
# leave it alone until then. Migration 5 writes 1 for a new store.
SEARCH_VERSION = 1


def spec_for(collection: str) -> TableSpec:
    """The table holding a collection."""
    return SPECS.get(collection, OTHER_SPEC)
