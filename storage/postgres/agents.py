"""PostgreSQL: agents (created, disabled, deleted) and where credentials stand.

A deleted agent stays as a row with ``deleted_at`` set, so that its messages keep their
``sender_id``; every lookup skips it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import Agent, CredentialStanding
from storage.postgres.database import Database, rowcount
from storage.postgres.values import POSTGRES

__all__ = ["Agents"]

_LIVE = "deleted_at IS NULL"


class Agents(Database):
    async def create_agent(self, agent: Agent) -> None:
        await self._execute(
            "INSERT INTO agents (id, org_id, name, email, created_at, status, role)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            agent.id,
            agent.org_id,
            agent.name,
            agent.email,
            agent.created_at,
            agent.status,
            agent.role,
        )

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        return await self._one(
            records.agent,
            f"SELECT * FROM agents WHERE id = $1 AND org_id = $2 AND {_LIVE}",
            agent_id,
            org_id,
        )

    async def list_agents(self, org_id: str) -> list[Agent]:
        return await self._all(
            records.agent,
            f"SELECT * FROM agents WHERE org_id = $1 AND {_LIVE} ORDER BY created_at, id",
            org_id,
        )

    async def update_agent(
        self, org_id: str, agent_id: str, updates: Mapping[str, Any]
    ) -> Agent | None:
        values = columns.agent_updates(updates, POSTGRES)
        async with self._connection() as conn:
            if values:
                assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(values, 3))
                await conn.execute(
                    f"UPDATE agents SET {assignments} WHERE id = $1 AND org_id = $2 AND {_LIVE}",
                    agent_id,
                    org_id,
                    *values.values(),
                )
            row = await conn.fetchrow(
                f"SELECT * FROM agents WHERE id = $1 AND org_id = $2 AND {_LIVE}", agent_id, org_id
            )
        return None if row is None else records.agent(row)

    async def delete_agent(self, org_id: str, agent_id: str, at: datetime) -> bool:
        status = await self._execute(
            f"UPDATE agents SET deleted_at = $3, login_email = NULL"
            f" WHERE id = $1 AND org_id = $2 AND {_LIVE}",
            agent_id,
            org_id,
            at,
        )
        return rowcount(status) > 0

    async def credential_standing(
        self, api_key_ids: Collection[str], agent_ids: Collection[str]
    ) -> CredentialStanding:
        # Ids are uuid columns: anything else names nothing (and must not fail the query).
        keys, agents = _uuids(api_key_ids), _uuids(agent_ids)
        if not keys and not agents:
            return CredentialStanding(frozenset(), {})
        async with self._connection() as conn:
            live = await conn.fetch(
                "SELECT id FROM api_keys WHERE revoked_at IS NULL AND id = ANY($1::uuid[])", keys
            )
            statuses = await conn.fetch(
                f"SELECT id, status FROM agents WHERE {_LIVE} AND id = ANY($1::uuid[])", agents
            )
        return CredentialStanding(
            live_api_keys=frozenset(row["id"] for row in live),
            agents={row["id"]: row["status"] for row in statuses},
        )


def _uuids(ids: Collection[str]) -> list[str]:
    valid = []
    for value in ids:
        try:
            valid.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return valid
