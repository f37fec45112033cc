"""SQLite: webhook endpoints, where an org's events and channel messages are delivered."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import WebhookEndpoint
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE, ts

__all__ = ["Webhooks"]


class Webhooks(Database):
    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO webhook_endpoints (id, org_id, url, kind, description, event_types,"
                " secrets, fifo, status, paused_reason, failing_since, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                columns.webhook_endpoint(endpoint, SQLITE),
            )
        )

    async def get_webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._one(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE id = ? AND org_id = ?",
            (endpoint_id, org_id),
        )

    async def list_webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        return await self._all(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def update_webhook_endpoint(
        self, org_id: str, endpoint_id: str, updates: Mapping[str, Any], at: datetime
    ) -> WebhookEndpoint | None:
        def txn(c: sqlite3.Connection) -> sqlite3.Row | None:
            values = columns.endpoint_updates(updates, SQLITE)
            assignments = "".join(f"{name} = ?, " for name in values)
            c.execute(
                f"UPDATE webhook_endpoints SET {assignments}updated_at = ?"
                " WHERE id = ? AND org_id = ?",
                (*values.values(), ts(at), endpoint_id, org_id),
            )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM webhook_endpoints WHERE id = ? AND org_id = ?",
                (endpoint_id, org_id),
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.webhook_endpoint(row)

    async def delete_webhook_endpoint(self, org_id: str, endpoint_id: str, at: datetime) -> bool:
        """Delete the endpoint and cancel what still waits for it."""

        def txn(c: sqlite3.Connection) -> bool:
            deleted = c.execute(
                "DELETE FROM webhook_endpoints WHERE id = ? AND org_id = ?", (endpoint_id, org_id)
            ).rowcount
            if deleted:
                c.execute(
                    "UPDATE outbox SET status = 'cancelled', finished_at = ?"
                    " WHERE endpoint_id = ? AND status = 'pending'",
                    (ts(at), endpoint_id),
                )
            return bool(deleted)

        return await self._write(txn)
