"""SQLite: the outbox (webhook deliveries, live-agent forwards, timers) and its claims.

``targets`` and ``insert`` run inside the transaction of the change that calls for the rows
(``conversations.py``), so a delivery exists exactly when its change does.

SQLite has one writer at a time, so a claim (select, then lease) is exclusive across
processes without row locks: ``BEGIN IMMEDIATE`` already serialises claimers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage import columns, records
from storage.models import Conversation, Delivery, DeliveryAttempt, DeliveryOutcome, OutboxItem, now
from storage.outbox import Targets
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE, ts, ts_or_none

__all__ = ["Outbox", "insert", "targets"]

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
        [columns.outbox_item(i, at, SQLITE) for i in items],
    )


class Outbox(Database):
    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        await self._write(lambda c: insert(c, items, at))

    async def claim_deliveries(
        self, owner: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        # Look before taking the write lock: most looks find nothing due (leased or not).
        due = await self._read(
            lambda c: c.execute(
                "SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
                (ts(at),),
            ).fetchone()
        )
        if due is None:
            return []

        def txn(c: sqlite3.Connection) -> list[Delivery]:
            rows = c.execute(CLAIM, (ts(at), ts(at), limit)).fetchall()
            c.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                [(owner, ts(at + lease), r["id"]) for r in rows],
            )
            return [records.delivery(r, at) for r in rows]

        return await self._write(txn)

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        return await self._write(lambda c: _finish(c, delivery, outcome, at))

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
        where = ["org_id = ?", "endpoint_id = ?"]
        params: list[Any] = [org_id, endpoint_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if after is not None:
            where.append("position < coalesce((SELECT position FROM outbox WHERE id = ?), 0)")
            params.append(after)
        return await self._all(
            records.delivery,
            f"SELECT * FROM outbox WHERE {' AND '.join(where)} ORDER BY position DESC LIMIT ?",
            (*params, limit),
        )

    async def get_delivery(self, org_id: str, delivery_id: str) -> Delivery | None:
        return await self._one(
            records.delivery,
            "SELECT * FROM outbox WHERE id = ? AND org_id = ?",
            (delivery_id, org_id),
        )

    async def list_delivery_attempts(self, org_id: str, delivery_id: str) -> list[DeliveryAttempt]:
        return await self._all(
            records.delivery_attempt,
            "SELECT a.* FROM delivery_attempts a JOIN outbox o ON o.id = a.delivery_id"
            " WHERE a.delivery_id = ? AND o.org_id = ? ORDER BY a.attempt",
            (delivery_id, org_id),
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
        cursor = await self._write(
            lambda c: c.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                " lease_owner = NULL, lease_until = NULL, finished_at = NULL"
                f" WHERE {' AND '.join(where)}",
                (ts(at), *params),
            )
        )
        return int(cursor.rowcount)


def _finish(
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
    status = outcome.status
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
