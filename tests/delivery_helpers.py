"""What the delivery tests compare: the records the wizard's store holds and those the
stand-in server holds (keys per main collection)."""

from __future__ import annotations

from pathlib import Path

from agentmemory_standin import StandIn

from wizard.store.database import open_store


def store_records(db: Path) -> dict[str, set[str]]:
    with open_store(db) as store:
        con = store.database
        return {
            "sessions": {r[0] for r in con.execute_sql("SELECT id FROM sessions")},
            "observations": {r[0] for r in con.execute_sql("SELECT id FROM observations")},
            "memories": {r[0] for r in con.execute_sql("SELECT id FROM memories")},
            "summaries": {r[0] for r in con.execute_sql("SELECT session_id FROM summaries")},
        }


def on_server(server: StandIn) -> dict[str, set[str]]:
    with server.lock:
        return {
            "sessions": set(server.store["sessions"]),
            "observations": {key[1] for key in server.store["observations"]},
            "memories": set(server.store["memories"]),
            "summaries": set(server.store["summaries"]),
        }
