"""SQLite: webhook endpoints and the outbox, as functions run inside ``SQLiteStore``'s
transactions (each takes the connection of the transaction it is part of).

SQLite has one writer at a time, so a claim (select, then lease) is exclusive across
processes without row locks: ``BEGIN IMMEDIATE`` already serialises claimers.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

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
from storage.sqlite_values import json_text, ts, ts_or_none

__all__ = [
    "anything_due",
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

#: Endpoint fields ``update_endpoint`` may change, with how each is stored.
ENDPOINT_COLUMNS: Mapping[str, Any] = {
    "url": lambda v: v,
    "description": lambda v: v,
    "event_types": lambda v: json_text(list(v)),
    "fifo": int,
    "status": lambda v: v,
    "paused_reason": lambda v: v,
    "failing_since": ts_or_none,
    "secrets": lambda v: json_text([[s, ts_or_none(e)] for s, e in v]),
}

CLAIM = """
SELECT o.*, e.url AS endpoint_url, e.secrets AS endpoint_secrets,
       w.live_agent_endpoint_url AS widget_url, w.live_agent_secret AS widget_secret
FROM outbox o
LEFT JOIN webhook_endpoints e ON e.id = o.endpoint_id
LEFT JOIN widgets w ON w.id = o.widget_id
WHERE o.status = 'pending' AND o.next_attempt_at <= ?
  AND (o.lease_until IS NULL OR o.lease_until < ?)
  AND (o.endpoint_id IS NULL OR e.status = 'active')
  AND (o.fifo_key IS NULL OR NOT EXISTS (
      SELECT 1 FROM outbox p
      WHERE p.fifo_key = o.fifo_key AND p.status = 'pending' AND p.position < o.position))
ORDER BY o.next_attempt_at, o.position
LIMIT ?
"""


def targets(c: sqlite3.Connection, conversation: Conversation) -> Targets:
    """What the outbox may address for a change of ``conversation``."""
    endpoints = c.execute(
        "SELECT * FROM webhook_endpoints WHERE org_id = ? AND status != 'disabled'",
        (conversation.org_id,),
    ).fetchall()
    widget = None
    if conversation.widget_id is not None:
        row = c.execute(
            "SELECT * FROM widgets WHERE id = ? AND live_agent_endpoint_url IS NOT NULL",
            (conversation.widget_id,),
        ).fetchone()
        widget = None if row is None else records.widget(row)
    return Targets(tuple(records.webhook_endpoint(r) for r in endpoints), widget)


def insert(c: sqlite3.Connection, items: Iterable[OutboxItem], at: datetime) -> None:
    c.executemany(
        "INSERT INTO outbox (id, message_id, org_id, target, event_type, payload, endpoint_id,"
        " widget_id, conversation_id, seq, fifo_key, status, next_attempt_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        [
            (
                f"dlv_{uuid.uuid4().hex}",
                i.message_id,
                i.org_id,
                i.target,
                i.event_type,
                json_text(i.payload).encode(),
                i.endpoint_id,
                i.widget_id,
                i.conversation_id,
                i.seq,
                i.fifo_key,
                ts(i.due_at),
                ts(at),
            )
            for i in items
        ],
    )


# -- endpoints ----------------------------------------------------------------------------


def create_endpoint(c: sqlite3.Connection, e: WebhookEndpoint) -> None:
    c.execute(
        "INSERT INTO webhook_endpoints (id, org_id, url, kind, description, event_types,"
        " secrets, fifo, status, paused_reason, failing_since, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.id,
            e.org_id,
            e.url,
            e.kind,
            e.description,
            ENDPOINT_COLUMNS["event_types"](e.event_types),
            ENDPOINT_COLUMNS["secrets"](e.secrets),
            int(e.fifo),
            e.status,
            e.paused_reason,
            ts_or_none(e.failing_since),
            ts(e.created_at),
            ts(e.updated_at),
        ),
    )


def update_endpoint(
    c: sqlite3.Connection,
    org_id: str,
    endpoint_id: str,
    updates: Mapping[str, Any],
    at: datetime,
) -> WebhookEndpoint | None:
    unknown = set(updates) - set(ENDPOINT_COLUMNS)
    if unknown:
        raise RuntimeError(f"update_webhook_endpoint cannot change {sorted(unknown)}")
    assignments = "".join(f"{name} = ?, " for name in updates)
    values = [ENDPOINT_COLUMNS[name](value) for name, value in updates.items()]
    c.execute(
        f"UPDATE webhook_endpoints SET {assignments}updated_at = ? WHERE id = ? AND org_id = ?",
        (*values, ts(at), endpoint_id, org_id),
    )
    row = c.execute(
        "SELECT * FROM webhook_endpoints WHERE id = ? AND org_id = ?", (endpoint_id, org_id)
    ).fetchone()
    return None if row is None else records.webhook_endpoint(row)


def delete_endpoint(c: sqlite3.Connection, org_id: str, endpoint_id: str, at: datetime) -> bool:
    """Delete the endpoint and cancel what still waits for it."""
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


# -- deliveries ---------------------------------------------------------------------------


def anything_due(c: sqlite3.Connection, at: datetime) -> bool:
    """Whether some pending row is due (leased or not): a cheap look before a claim."""
    row = c.execute(
        "SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
        (ts(at),),
    ).fetchone()
    return row is not None


def claim(
    c: sqlite3.Connection, owner: str, at: datetime, lease: timedelta, limit: int
) -> list[Delivery]:
    now = ts(at)
    rows = c.execute(CLAIM, (now, now, limit)).fetchall()
    c.executemany(
        "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
        [(owner, ts(at + lease), r["id"]) for r in rows],
    )
    return [records.delivery(r, at) for r in rows]


def finish(
    c: sqlite3.Connection, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
) -> bool:
    """Record an attempt's outcome; False when the delivery is no longer pending."""
    row = c.execute("SELECT status, attempts FROM outbox WHERE id = ?", (delivery.id,)).fetchone()
    if row is None or row["status"] != "pending":
        return False
    attempt = outcome.attempt
    attempts = row["attempts"] + (attempt is not None)
    if attempt is not None:
        # Numbered over the delivery's whole life: a replay starts the schedule over, not
        # the history.
        c.execute(
            "INSERT INTO delivery_attempts VALUES (?, (SELECT coalesce(max(attempt), 0) + 1"
            " FROM delivery_attempts WHERE delivery_id = ?), ?, ?, ?, ?)",
            (
                delivery.id,
                delivery.id,
                ts(attempt.at),
                attempt.status_code,
                attempt.error,
                attempt.duration_ms,
            ),
        )
    status = "pending" if outcome.result == "retry" else outcome.result
    c.execute(
        "UPDATE outbox SET status = ?, attempts = ?,"
        " next_attempt_at = coalesce(?, next_attempt_at), lease_owner = NULL,"
        " lease_until = NULL, last_status = ?, last_error = ?, finished_at = ? WHERE id = ?",
        (
            status,
            attempts,
            ts_or_none(outcome.retry_at),
            None if attempt is None else attempt.status_code,
            None if attempt is None else attempt.error,
            None if status == "pending" else ts(at),
            delivery.id,
        ),
    )
    if delivery.endpoint_id is not None and attempt is not None:
        _track_endpoint(c, delivery, outcome, at)
    return True


def _track_endpoint(
    c: sqlite3.Connection, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
) -> None:
    if outcome.result == "delivered":
        c.execute(
            "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?",
            (delivery.endpoint_id,),
        )
        return
    # A run of failures begins when its first failed attempt began.
    assert outcome.attempt is not None
    started = outcome.attempt.at
    c.execute(
        "UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ?",
        (ts(started), delivery.endpoint_id),
    )
    if outcome.result == "dead" and outcome.pause_reason is not None:
        # Pause only an endpoint that failed everything since this delivery's first attempt.
        c.execute(
            "UPDATE webhook_endpoints SET status = 'paused', paused_reason = ?, updated_at = ?"
            " WHERE id = ? AND status = 'active' AND failing_since <= ("
            "   SELECT min(at) FROM delivery_attempts WHERE delivery_id = ?)",
            (outcome.pause_reason, ts(at), delivery.endpoint_id, delivery.id),
        )


def list_deliveries(
    c: sqlite3.Connection,
    org_id: str,
    endpoint_id: str,
    status: str | None,
    after: str | None,
    limit: int,
) -> list[Delivery]:
    """Newest first; ``after`` is the id of the last delivery of the previous page."""
    where = ["org_id = ?", "endpoint_id = ?"]
    params: list[Any] = [org_id, endpoint_id]
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if after is not None:
        where.append("position < coalesce((SELECT position FROM outbox WHERE id = ?), 0)")
        params.append(after)
    rows = c.execute(
        f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY position DESC LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [records.delivery(r) for r in rows]


def list_attempts(c: sqlite3.Connection, org_id: str, delivery_id: str) -> list[DeliveryAttempt]:
    rows = c.execute(
        "SELECT a.* FROM delivery_attempts a JOIN outbox o ON o.id = a.delivery_id"
        " WHERE a.delivery_id = ? AND o.org_id = ? ORDER BY a.attempt",
        (delivery_id, org_id),
    ).fetchall()
    return [records.delivery_attempt(r) for r in rows]


def replay(
    c: sqlite3.Connection,
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
    where = ["org_id = ?", "endpoint_id = ?", f"status IN ({', '.join('?' * len(statuses))})"]
    params: list[Any] = [org_id, endpoint_id, *statuses]
    if delivery_id is not None:
        where.append("id = ?")
        params.append(delivery_id)
    if since is not None:
        where.append("created_at >= ?")
        params.append(ts(since))
    if until is not None:
        where.append("created_at < ?")
        params.append(ts(until))
    cursor = c.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
        " lease_owner = NULL, lease_until = NULL, finished_at = NULL"
        f" WHERE {' AND '.join(where)}",
        (ts(at), *params),
    )
    return int(cursor.rowcount)
