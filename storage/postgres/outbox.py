"""PostgreSQL: the outbox (webhook deliveries, live-agent forwards, timers) and its claims.

``targets`` and ``insert`` run inside the transaction of the change that calls for the rows
(``conversations.py``), so a delivery exists exactly when its change does.

A claim is exclusive across processes through row locks: the due rows are picked with
``FOR UPDATE OF o SKIP LOCKED`` and leased in the same statement, so two claimers never
lease one row, and a row another claimer is leasing is skipped rather than waited for.
``finish_delivery`` locks the row it records an attempt for (``SELECT ... FOR UPDATE``), so
attempts of one delivery are numbered one at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from storage import columns, records
from storage.models import Conversation, Delivery, DeliveryAttempt, DeliveryOutcome, OutboxItem, now
from storage.outbox import Targets
from storage.postgres.database import Database, rowcount
from storage.postgres.values import POSTGRES

__all__ = ["Outbox", "insert", "targets"]

#: Lease the due rows ($1: now, $2: owner, $3: lease end, $4: limit), skipping rows another
#: claimer holds, and return them with their target's current url and secrets, in order.
CLAIM = """
WITH due AS (
    SELECT o.id
    FROM outbox o
    LEFT JOIN webhook_endpoints e ON e.id = o.endpoint_id
    WHERE o.status = 'pending' AND o.next_attempt_at <= $1
      AND (o.lease_until IS NULL OR o.lease_until < $1)
      AND (o.endpoint_id IS NULL OR e.status = 'active')
      AND (o.fifo_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM outbox p
          WHERE p.fifo_key = o.fifo_key AND p.status = 'pending' AND p.position < o.position))
    ORDER BY o.next_attempt_at, o.position
    LIMIT $4
    FOR UPDATE OF o SKIP LOCKED
), leased AS (
    UPDATE outbox SET lease_owner = $2, lease_until = $3
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.*
)
SELECT l.*, e.url AS endpoint_url, e.secrets AS endpoint_secrets,
       w.live_agent_endpoint_url AS widget_url, w.live_agent_secret AS widget_secret
FROM leased l
LEFT JOIN webhook_endpoints e ON e.id = l.endpoint_id
LEFT JOIN widgets w ON w.id = l.widget_id
ORDER BY l.next_attempt_at, l.position
"""


async def targets(c: asyncpg.Connection, conversation: Conversation) -> Targets:
    """What the outbox may address for a change of ``conversation``."""
    endpoints = await c.fetch(
        "SELECT * FROM webhook_endpoints WHERE org_id = $1 AND status != 'disabled'"
        " ORDER BY created_at, id",
        conversation.org_id,
    )
    widget = None
    if conversation.widget_id is not None:
        row = await c.fetchrow(
            "SELECT * FROM widgets WHERE id = $1 AND live_agent_endpoint_url IS NOT NULL",
            conversation.widget_id,
        )
        widget = None if row is None else records.widget(row)
    return Targets(tuple(records.webhook_endpoint(r) for r in endpoints), widget)


async def insert(c: asyncpg.Connection, items: Iterable[OutboxItem], at: datetime) -> None:
    rows = [columns.outbox_item(i, at, POSTGRES) for i in items]
    if not rows:
        return
    await c.executemany(
        "INSERT INTO outbox (id, message_id, org_id, target, event_type, payload, endpoint_id,"
        " widget_id, conversation_id, seq, fifo_key, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13)",
        rows,
    )


class Outbox(Database):
    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        async with self._transaction() as conn:
            await insert(conn, items, at)

    async def claim_deliveries(
        self, owner: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        async with self._transaction() as conn:
            rows = await conn.fetch(CLAIM, at, owner, at + lease, limit)
            return [records.delivery(r, at) for r in rows]

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        async with self._transaction() as conn:
            return await _finish(conn, delivery, outcome, at)

    async def list_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        """Newest first; ``after`` is the id of the last delivery of the previous page."""
        where = ["org_id = $1", "endpoint_id = $2"]
        params: list[Any] = [org_id, endpoint_id]
        if status is not None:
            params.append(status)
            where.append(f"status = ${len(params)}")
        if after is not None:
            params.append(after)
            where.append(
                f"position < coalesce((SELECT position FROM outbox WHERE id = ${len(params)}), 0)"
            )
        params.append(limit)
        return await self._all(
            records.delivery,
            f"SELECT * FROM outbox WHERE {' AND '.join(where)}"
            f" ORDER BY position DESC LIMIT ${len(params)}",
            *params,
        )

    async def get_delivery(self, org_id: str, delivery_id: str) -> Delivery | None:
        return await self._one(
            records.delivery,
            "SELECT * FROM outbox WHERE id = $1 AND org_id = $2",
            delivery_id,
            org_id,
        )

    async def list_delivery_attempts(self, org_id: str, delivery_id: str) -> list[DeliveryAttempt]:
        return await self._all(
            records.delivery_attempt,
            "SELECT a.* FROM delivery_attempts a JOIN outbox o ON o.id = a.delivery_id"
            " WHERE a.delivery_id = $1 AND o.org_id = $2 ORDER BY a.attempt",
            delivery_id,
            org_id,
        )

    async def replay_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        delivery_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        statuses: Sequence[str] = ("dead",),
        at: datetime,
    ) -> int:
        """Send deliveries again from the first attempt of the schedule (same ``webhook-id``)."""
        where = ["org_id = $2", "endpoint_id = $3", "status = ANY($4::text[])"]
        params: list[Any] = [at, org_id, endpoint_id, list(statuses)]
        if delivery_id is not None:
            params.append(delivery_id)
            where.append(f"id = ${len(params)}")
        if since is not None:
            params.append(since)
            where.append(f"created_at >= ${len(params)}")
        if until is not None:
            params.append(until)
            where.append(f"created_at < ${len(params)}")
        status = await self._execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1,"
            " lease_owner = NULL, lease_until = NULL, finished_at = NULL"
            f" WHERE {' AND '.join(where)}",
            *params,
        )
        return rowcount(status)


async def _finish(
    c: asyncpg.Connection, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
) -> bool:
    """Record an attempt's outcome; False when the delivery is no longer pending."""
    row = await c.fetchrow(
        "SELECT status, attempts FROM outbox WHERE id = $1 FOR UPDATE", delivery.id
    )
    if row is None or row["status"] != "pending":
        return False
    attempt = outcome.attempt
    attempts = row["attempts"] + (attempt is not None)
    if attempt is not None:
        # Numbered over the delivery's whole life: a replay starts the schedule over, not
        # the history. The row lock above makes the numbering race-free.
        await c.execute(
            "INSERT INTO delivery_attempts VALUES ($1, (SELECT coalesce(max(attempt), 0) + 1"
            " FROM delivery_attempts WHERE delivery_id = $1), $2, $3, $4, $5)",
            delivery.id,
            attempt.at,
            attempt.status_code,
            attempt.error,
            attempt.duration_ms,
        )
    status = outcome.status
    await c.execute(
        "UPDATE outbox SET status = $1, attempts = $2,"
        " next_attempt_at = coalesce($3, next_attempt_at), lease_owner = NULL,"
        " lease_until = NULL, last_status = $4, last_error = $5, finished_at = $6 WHERE id = $7",
        status,
        attempts,
        outcome.retry_at,
        None if attempt is None else attempt.status_code,
        None if attempt is None else attempt.error,
        None if status == "pending" else at,
        delivery.id,
    )
    if delivery.endpoint_id is not None and attempt is not None:
        await _track_endpoint(c, delivery, outcome, at)
    return True


async def _track_endpoint(
    c: asyncpg.Connection, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
) -> None:
    if outcome.result == "delivered":
        await c.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1",
            delivery.endpoint_id,
        )
        return
    # A run of failures begins when its first failed attempt began.
    assert outcome.attempt is not None
    started = outcome.attempt.at
    await c.execute(
        "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, $1) WHERE id = $2",
        started,
        delivery.endpoint_id,
    )
    if outcome.result == "dead" and outcome.pause_reason is not None:
        # Pause only an endpoint that failed everything since this delivery's first attempt.
        await c.execute(
            "UPDATE webhook_endpoints SET status = 'paused', paused_reason = $1, updated_at = $2"
            " WHERE id = $3 AND status = 'active' AND failing_since <= ("
            "   SELECT min(at) FROM delivery_attempts WHERE delivery_id = $4)",
            outcome.pause_reason,
            at,
            delivery.endpoint_id,
            delivery.id,
        )
