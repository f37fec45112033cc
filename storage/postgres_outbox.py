"""PostgreSQL: webhook endpoints and the outbox, as functions run inside ``PostgresStore``'s
transactions (each takes the connection of the transaction it is part of).

A claim is exclusive across processes through row locks: the due rows are picked with
``FOR UPDATE OF o SKIP LOCKED`` and leased in the same statement, so two claimers never
lease one row, and a row another claimer is leasing is skipped rather than waited for.
``finish`` locks the row it records an attempt for (``SELECT ... FOR UPDATE``), so attempts
of one delivery are numbered one at a time.

Timestamps are ``timestamptz`` and JSON ``jsonb`` (through the codecs ``PostgresStore`` sets on
its connections), ids are ``uuid`` except delivery and message ids (``dlv_...``, ``msg_...``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson

from storage import records
from storage.models import (
    Conversation,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    OutboxItem,
    WebhookEndpoint,
)
from storage.outbox import Targets

__all__ = [
    "claim",
    "create_endpoint",
    "delete_endpoint",
    "finish",
    "insert",
    "list_attempts",
    "list_deliveries",
    "replay",
    "targets",
    "update_endpoint",
]


def _expires(value: datetime | None) -> str | None:
    """A secret's expiry as stored in the ``secrets`` jsonb; naive values are refused."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.isoformat()


def _secrets(value: Iterable[tuple[str, datetime | None]]) -> list[list[str | None]]:
    return [[secret, _expires(expires)] for secret, expires in value]


def _same(value: Any) -> Any:
    return value


#: Endpoint fields ``update_endpoint`` may change, with how each is stored.
ENDPOINT_COLUMNS: Mapping[str, Any] = {
    "url": _same,
    "description": _same,
    "event_types": list,
    "fifo": bool,
    "status": _same,
    "paused_reason": _same,
    "failing_since": _same,
    "secrets": _secrets,
}

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


def _count(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    return int(status.split()[-1])


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
    rows = [
        (
            f"dlv_{uuid.uuid4().hex}",
            i.message_id,
            i.org_id,
            i.target,
            i.event_type,
            orjson.dumps(i.payload),
            i.endpoint_id,
            i.widget_id,
            i.conversation_id,
            i.seq,
            i.fifo_key,
            i.due_at,
            at,
        )
        for i in items
    ]
    if not rows:
        return
    await c.executemany(
        "INSERT INTO outbox (id, message_id, org_id, target, event_type, payload, endpoint_id,"
        " widget_id, conversation_id, seq, fifo_key, status, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $13)",
        rows,
    )


# -- endpoints ----------------------------------------------------------------------------


async def create_endpoint(c: asyncpg.Connection, e: WebhookEndpoint) -> None:
    await c.execute(
        "INSERT INTO webhook_endpoints (id, org_id, url, kind, description, event_types,"
        " secrets, fifo, status, paused_reason, failing_since, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        e.id,
        e.org_id,
        e.url,
        e.kind,
        e.description,
        ENDPOINT_COLUMNS["event_types"](e.event_types),
        ENDPOINT_COLUMNS["secrets"](e.secrets),
        e.fifo,
        e.status,
        e.paused_reason,
        e.failing_since,
        e.created_at,
        e.updated_at,
    )


async def update_endpoint(
    c: asyncpg.Connection,
    org_id: str,
    endpoint_id: str,
    updates: Mapping[str, Any],
    at: datetime,
) -> WebhookEndpoint | None:
    unknown = set(updates) - set(ENDPOINT_COLUMNS)
    if unknown:
        raise RuntimeError(f"update_webhook_endpoint cannot change {sorted(unknown)}")
    assignments = "".join(f"{name} = ${n}, " for n, name in enumerate(updates, 4))
    values = [ENDPOINT_COLUMNS[name](value) for name, value in updates.items()]
    row = await c.fetchrow(
        f"UPDATE webhook_endpoints SET {assignments}updated_at = $3"
        " WHERE id = $1 AND org_id = $2 RETURNING *",
        endpoint_id,
        org_id,
        at,
        *values,
    )
    return None if row is None else records.webhook_endpoint(row)


async def delete_endpoint(
    c: asyncpg.Connection, org_id: str, endpoint_id: str, at: datetime
) -> bool:
    """Delete the endpoint and cancel what still waits for it."""
    deleted = _count(
        await c.execute(
            "DELETE FROM webhook_endpoints WHERE id = $1 AND org_id = $2", endpoint_id, org_id
        )
    )
    if deleted:
        await c.execute(
            "UPDATE outbox SET status = 'cancelled', finished_at = $1"
            " WHERE endpoint_id = $2 AND status = 'pending'",
            at,
            endpoint_id,
        )
    return bool(deleted)


# -- deliveries ---------------------------------------------------------------------------


async def claim(
    c: asyncpg.Connection, owner: str, at: datetime, lease: timedelta, limit: int
) -> list[Delivery]:
    rows = await c.fetch(CLAIM, at, owner, at + lease, limit)
    return [records.delivery(r, at) for r in rows]


async def finish(
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
    status = "pending" if outcome.result == "retry" else outcome.result
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


async def list_deliveries(
    c: asyncpg.Connection,
    org_id: str,
    endpoint_id: str,
    status: str | None,
    after: str | None,
    limit: int,
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
    rows = await c.fetch(
        f"SELECT * FROM outbox WHERE {' AND '.join(where)}"
        f" ORDER BY position DESC LIMIT ${len(params)}",
        *params,
    )
    return [records.delivery(r) for r in rows]


async def list_attempts(
    c: asyncpg.Connection, org_id: str, delivery_id: str
) -> list[DeliveryAttempt]:
    rows = await c.fetch(
        "SELECT a.* FROM delivery_attempts a JOIN outbox o ON o.id = a.delivery_id"
        " WHERE a.delivery_id = $1 AND o.org_id = $2 ORDER BY a.attempt",
        delivery_id,
        org_id,
    )
    return [records.delivery_attempt(r) for r in rows]


async def replay(
    c: asyncpg.Connection,
    org_id: str,
    endpoint_id: str,
    *,
    delivery_id: str | None,
    since: datetime | None,
    until: datetime | None,
    statuses: Sequence[str],
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
    result = await c.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1,"
        " lease_owner = NULL, lease_until = NULL, finished_at = NULL"
        f" WHERE {' AND '.join(where)}",
        *params,
    )
    return _count(result)
