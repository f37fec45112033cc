"""PostgreSQL: webhook endpoints, where an org's events and channel messages are delivered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import WebhookEndpoint
from storage.postgres.database import Database, rowcount
from storage.postgres.values import POSTGRES

__all__ = ["Webhooks"]


class Webhooks(Database):
    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self._execute(
            "INSERT INTO webhook_endpoints (id, org_id, url, kind, description, event_types,"
            " secrets, fifo, status, paused_reason, failing_since, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            *columns.webhook_endpoint(endpoint, POSTGRES),
        )

    async def get_webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._one(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
            endpoint_id,
            org_id,
        )

    async def list_webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        return await self._all(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def update_webhook_endpoint(
        self, org_id: str, endpoint_id: str, updates: Mapping[str, Any], at: datetime
    ) -> WebhookEndpoint | None:
        async with self._connection() as conn:
            values = columns.endpoint_updates(updates, POSTGRES)
            assignments = "".join(f"{name} = ${n}, " for n, name in enumerate(values, 4))
            row = await conn.fetchrow(
                f"UPDATE webhook_endpoints SET {assignments}updated_at = $3"
                " WHERE id = $1 AND org_id = $2 RETURNING *",
                endpoint_id,
                org_id,
                at,
                *values.values(),
            )
        return None if row is None else records.webhook_endpoint(row)

    async def delete_webhook_endpoint(self, org_id: str, endpoint_id: str, at: datetime) -> bool:
        """Delete the endpoint and cancel what still waits for it.

        Locks the endpoint's pending rows before the endpoint, in the order a finishing
        attempt does (its row, then its endpoint), so the two never deadlock.
        """
        async with self._transaction() as conn:
            owned = await conn.fetchval(
                "SELECT 1 FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
                endpoint_id,
                org_id,
            )
            if not owned:
                return False
            await conn.execute(
                "UPDATE outbox SET status = 'cancelled', finished_at = $1"
                " WHERE endpoint_id = $2 AND status = 'pending'",
                at,
                endpoint_id,
            )
            deleted = rowcount(
                await conn.execute(
                    "DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
                    endpoint_id,
                    org_id,
                )
            )
        return bool(deleted)
