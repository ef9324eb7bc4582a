"""Names vulture cannot see used (it reads ``wizard/`` and this file; pyproject.toml).

Qt calls the overrides of its virtual methods (listed as ``ignore_names`` in pyproject.toml);
these are the rest: API that only the tests and tools use, on purpose.
"""

from wizard.store.database import Store
from wizard.ui import error_dialog

error_dialog.open_error_dialogs  # the tests find the crash dialogs the app has open
Store.schema_version  # the store's schema, read by the tests of migrations

# peewee columns that no query names (the migrations create them; rows carry them)
from wizard.core.storage.mem0 import _PointUnpickler
from wizard.store import models

models.ALL_MODELS  # every table, for the test that a migrated schema equals a new one
models.SchemaVersion.app_version
models.RecordModel.hash
models.GraphEdgeRow.source_node_id
models.GraphEdgeRow.target_node_id
models.AuditEntry.source_path
models.AuditEntry.source_name
models.AuditEntry.source_size
models.AuditEntry.app_version
models.AuditEntry.reverted_by
models.ChangeRow.prev_rowid
models.ChangeRow.prev_data
models.ChangeRow.prev_hash
models.ChangeRow.prev_bucket
models.ChangeRow.prev_last_audit
_PointUnpickler.find_class  # pickle.Unpickler calls it
