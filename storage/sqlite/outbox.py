"""SQLite: the outbox (webhook deliveries, live-agent forwards, timers) and its claims.

``targets`` and ``insert`` run inside the transaction of the change that calls for the rows
(``conversations.py``), so a delivery exists exactly when its change does.

SQLite has one writer at a time, so a claim (count the leases in flight, pick fairly, lease:
``storage.claims``) is exclusive across processes without row locks: ``BEGIN IMMEDIATE``
already serialises claimers, and each sees every lease the ones before it took.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage import claims, columns, records
from storage.models import Conversation, Delivery, DeliveryAttempt, DeliveryOutcome, OutboxItem, now
from storage.outbox import Targets
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE, ts, ts_or_none

__all__ = ["Outbox", "insert", "targets"]

#: Receivers with pending rows, found one at a time through the index (a loose index scan),
#: less paused endpoints.
RECEIVERS = """
WITH RECURSIVE receivers(id) AS (
    SELECT (SELECT receiver FROM outbox
            WHERE status = 'pending' AND receiver IS NOT NULL ORDER BY receiver LIMIT 1)
    UNION ALL
    SELECT (SELECT receiver FROM outbox
            WHERE status = 'pending' AND receiver > r.id ORDER BY receiver LIMIT 1)
    FROM receivers r WHERE r.id IS NOT NULL
)
SELECT r.id FROM receivers r LEFT JOIN webhook_endpoints e ON e.id = r.id
WHERE r.id IS NOT NULL AND (e.id IS NULL OR e.status = 'active')
"""
#: Attempts in flight: rows whose lease still runs (?: now).
BUSY = """
SELECT receiver, org_id, count(*) AS n FROM outbox
WHERE status = 'pending' AND lease_owner IS NOT NULL AND lease_until >= ?
  AND receiver IS NOT NULL
GROUP BY receiver, org_id
"""
#: Due, not leased, first of its FIFO queue.
DUE = """
o.status = 'pending' AND o.next_attempt_at <= :at
AND (o.lease_until IS NULL OR o.lease_until < :at)
AND (o.fifo_key IS NULL OR NOT EXISTS (
    SELECT 1 FROM outbox p
    WHERE p.fifo_key = o.fifo_key AND p.status = 'pending' AND p.position < o.position))
"""
#: A receiver's first due rows (:receiver, :at, :room).
RECEIVER_DUE = f"""
SELECT o.id, o.org_id, o.next_attempt_at, o.position FROM outbox o
WHERE o.receiver = :receiver AND {DUE}
ORDER BY o.next_attempt_at, o.position LIMIT :room
"""
#: Due timers (:at, :room).
TIMERS_DUE = f"""
SELECT o.id, o.org_id, o.next_attempt_at, o.position FROM outbox o
WHERE o.receiver IS NULL AND {DUE}
ORDER BY o.next_attempt_at, o.position LIMIT :room
"""
#: Rows with the url and secrets of their target, as claims hand them out.
WITH_TARGET = """
SELECT o.*, e.url AS endpoint_url, e.secrets AS endpoint_secrets, e.status AS endpoint_status,
       w.live_agent_endpoint_url AS widget_url, w.live_agent_secret AS widget_secret,
       b.webhook_url AS bot_url, b.webhook_secret AS bot_secret
FROM outbox o
LEFT JOIN webhook_endpoints e ON e.id = o.endpoint_id
LEFT JOIN widgets w ON w.id = o.widget_id
LEFT JOIN bots b ON o.target = 'bot' AND b.id = o.receiver
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
    bot = contact = None
    if conversation.bot_id is not None:
        row = c.execute(
            "SELECT * FROM bots WHERE id = ? AND kind = 'webhook' AND webhook_url IS NOT NULL",
            (conversation.bot_id,),
        ).fetchone()
        bot = None if row is None else records.bot(row)
    if bot is not None and conversation.contact_id is not None:
        row = c.execute("SELECT * FROM contacts WHERE id = ?", (conversation.contact_id,))
        found = row.fetchone()
        contact = None if found is None else records.contact(found)
    endpoints_found = tuple(records.webhook_endpoint(r) for r in endpoints)
    return Targets(endpoints_found, widget, bot, contact)


def insert(c: sqlite3.Connection, items: Iterable[OutboxItem], at: datetime) -> None:
    c.executemany(
        "INSERT INTO outbox (id, message_id, org_id, target, event_type, payload, endpoint_id,"
        " widget_id, conversation_id, seq, fifo_key, receiver, status, next_attempt_at,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        [columns.outbox_item(i, at, SQLITE) for i in items],
    )


class Outbox(Database):
    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        await self._write(lambda c: insert(c, items, at))

    async def claim_deliveries(
        self,
        owner: str,
        at: datetime,
        lease: timedelta,
        limit: int,
        *,
        per_receiver: int | None = None,
        per_org: int | None = None,
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
            ids = _pick(c, at, limit, per_receiver, per_org)
            c.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                [(owner, ts(at + lease), i) for i in ids],
            )
            if not ids:
                return []
            rows = c.execute(
                f"{WITH_TARGET} WHERE o.id IN ({', '.join('?' * len(ids))})", ids
            ).fetchall()
            order = {i: n for n, i in enumerate(ids)}
            rows.sort(key=lambda r: order[r["id"]])
            return [records.delivery(r, at) for r in rows]

        return await self._write(txn)

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        return await self._write(lambda c: _finish(c, delivery, outcome, at))

    async def finish_and_claim_next(
        self,
        delivery: Delivery,
        outcome: DeliveryOutcome,
        at: datetime,
        owner: str,
        lease: timedelta,
    ) -> Delivery | None:
        def txn(c: sqlite3.Connection) -> Delivery | None:
            if not _finish(c, delivery, outcome, at) or outcome.status == "pending":
                return None
            if delivery.fifo_key is None:
                return None
            head = c.execute(
                f"{WITH_TARGET} WHERE o.fifo_key = ? AND o.status = 'pending'"
                " ORDER BY o.position LIMIT 1",
                (delivery.fifo_key,),
            ).fetchone()
            if head is None or not _ready(head, at):
                return None
            c.execute(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id = ?",
                (owner, ts(at + lease), head["id"]),
            )
            return records.delivery(head, at)

        return await self._write(txn)

    async def next_delivery_due(self, after: datetime) -> datetime | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT min(next_attempt_at) FROM outbox"
                " WHERE status = 'pending' AND next_attempt_at > ?",
                (ts(after),),
            ).fetchone()
        )
        return None if row[0] is None else records.timestamp(row[0])

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        def txn(c: sqlite3.Connection) -> int:
            ids = [
                (r[0],)
                for r in c.execute(
                    "SELECT id FROM outbox WHERE status <> 'pending' AND finished_at < ?"
                    " ORDER BY finished_at LIMIT ?",
                    (ts(before), limit),
                )
            ]
            c.executemany("DELETE FROM delivery_attempts WHERE delivery_id = ?", ids)
            c.executemany("DELETE FROM outbox WHERE id = ?", ids)
            return len(ids)

        return await self._write(txn)

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
            "UPDATE webhook_endpoints SET failing_since = NULL"
            " WHERE id = ? AND failing_since IS NOT NULL",
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


def _pick(
    c: sqlite3.Connection,
    at: datetime,
    limit: int,
    per_receiver: int | None,
    per_org: int | None,
) -> list[str]:
    """The ids a claim leases (``storage.claims``)."""
    busy_by_receiver: Counter[str] = Counter()
    busy_by_org: Counter[str] = Counter()
    for receiver, org_id, n in c.execute(BUSY, (ts(at),)):
        busy_by_receiver[receiver] += n
        busy_by_org[org_id] += n
    candidates: list[claims.Candidate] = []
    for (receiver,) in c.execute(RECEIVERS).fetchall():
        room = min(claims.room(per_receiver, busy_by_receiver[receiver]), limit)
        if room == 0:
            continue
        rows = c.execute(RECEIVER_DUE, {"receiver": receiver, "at": ts(at), "room": room})
        candidates.extend(_candidate(r, turn) for turn, r in enumerate(rows))
    timers = c.execute(TIMERS_DUE, {"at": ts(at), "room": limit})
    candidates.extend(_candidate(r, turn, capped=False) for turn, r in enumerate(timers))
    return claims.pick(candidates, busy_by_org, per_org, limit)


def _candidate(r: sqlite3.Row, turn: int, *, capped: bool = True) -> claims.Candidate:
    return claims.Candidate(
        r["id"], r["org_id"], turn, records.timestamp(r["next_attempt_at"]), r["position"], capped
    )


def _ready(row: sqlite3.Row, at: datetime) -> bool:
    """Whether a FIFO queue's new head may be sent now (as a claim would find it)."""
    return (
        records.timestamp(row["next_attempt_at"]) <= at
        and (row["lease_until"] is None or records.timestamp(row["lease_until"]) < at)
        and (row["endpoint_id"] is None or row["endpoint_status"] == "active")
    )
