"""SQLite: agents (created, disabled, deleted) and where credentials stand.

A deleted agent stays as a row with ``deleted_at`` set, so that its messages keep their
``sender_id``; every lookup skips it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import Agent, CredentialStanding
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE, ts

__all__ = ["Agents"]

_LIVE = "deleted_at IS NULL"


class Agents(Database):
    async def create_agent(self, agent: Agent) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO agents (id, org_id, name, email, created_at, status, role)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    agent.id,
                    agent.org_id,
                    agent.name,
                    agent.email,
                    ts(agent.created_at),
                    agent.status,
                    agent.role,
                ),
            )
        )

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        return await self._one(
            records.agent,
            f"SELECT * FROM agents WHERE id = ? AND org_id = ? AND {_LIVE}",
            (agent_id, org_id),
        )

    async def list_agents(self, org_id: str) -> list[Agent]:
        return await self._all(
            records.agent,
            f"SELECT * FROM agents WHERE org_id = ? AND {_LIVE} ORDER BY created_at, id",
            (org_id,),
        )

    async def update_agent(
        self, org_id: str, agent_id: str, updates: Mapping[str, Any]
    ) -> Agent | None:
        values = columns.agent_updates(updates, SQLITE)

        def txn(c: sqlite3.Connection) -> sqlite3.Row | None:
            if values:
                assignments = ", ".join(f"{name} = ?" for name in values)
                c.execute(
                    f"UPDATE agents SET {assignments} WHERE id = ? AND org_id = ? AND {_LIVE}",
                    (*values.values(), agent_id, org_id),
                )
            return c.execute(  # type: ignore[no-any-return]
                f"SELECT * FROM agents WHERE id = ? AND org_id = ? AND {_LIVE}",
                (agent_id, org_id),
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.agent(row)

    async def delete_agent(self, org_id: str, agent_id: str, at: datetime) -> bool:
        deleted: int = await self._write(
            lambda c: (
                c.execute(
                    f"UPDATE agents SET deleted_at = ?, login_email = NULL"
                    f" WHERE id = ? AND org_id = ? AND {_LIVE}",
                    (ts(at), agent_id, org_id),
                ).rowcount
            )
        )
        return deleted > 0

    async def credential_standing(
        self, api_key_ids: Collection[str], agent_ids: Collection[str]
    ) -> CredentialStanding:
        keys, agents = list(api_key_ids), list(agent_ids)

        def read(c: sqlite3.Connection) -> CredentialStanding:
            live = c.execute(
                "SELECT id FROM api_keys WHERE revoked_at IS NULL"
                " AND id IN (SELECT value FROM json_each(?))",
                (SQLITE.json(keys),),
            ).fetchall()
            statuses = c.execute(
                f"SELECT id, status FROM agents WHERE {_LIVE}"
                " AND id IN (SELECT value FROM json_each(?))",
                (SQLITE.json(agents),),
            ).fetchall()
            return CredentialStanding(
                live_api_keys=frozenset(row["id"] for row in live),
                agents={row["id"]: row["status"] for row in statuses},
            )

        if not keys and not agents:
            return CredentialStanding(frozenset(), {})
        return await self._read(read)
