"""PostgreSQL: the outbox (webhook deliveries, live-agent forwards, timers) and its claims.

``targets`` and ``insert`` run inside the transaction of the change that calls for the rows
(``conversations.py``), so a delivery exists exactly when its change does.

Claims are serialized across processes by a transaction-scoped advisory lock (a claim takes a
few milliseconds): each counts the leases in flight, including those the claim before it
took, picks fairly (``storage.claims``) and leases, so the caps hold over every process and
two claimers never lease one row. The lease itself re-checks that the row is still free.
``finish_delivery`` locks the row it records an attempt for (``SELECT ... FOR UPDATE``), so
attempts of one delivery are numbered one at a time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from storage import claims, columns, records
from storage.models import (
    Conversation,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    OutboxItem,
    WebhookEndpoint,
    now,
)
from storage.outbox import Targets
from storage.postgres.database import Database, rowcount
from storage.postgres.values import POSTGRES

__all__ = ["Outbox", "insert", "targets", "targets_of"]

T = TypeVar("T")

#: Key of the advisory lock that serializes claims, so that every claim counts the attempts
#: the claims before it leased ("chat" + "outb").
CLAIM_LOCK = 0x636861746F757462
#: Attempts in flight: rows whose lease still runs ($1: now).
BUSY = """
SELECT receiver, org_id, count(*) AS n FROM outbox
WHERE status = 'pending' AND lease_owner IS NOT NULL AND lease_until >= $1
  AND receiver IS NOT NULL
GROUP BY receiver, org_id
"""
#: Due, not leased, first of its FIFO queue ($1: now).
DUE = """
o.status = 'pending' AND o.next_attempt_at <= $1
AND (o.lease_until IS NULL OR o.lease_until < $1)
AND (o.fifo_key IS NULL OR NOT EXISTS (
    SELECT 1 FROM outbox p
    WHERE p.fifo_key = o.fifo_key AND p.status = 'pending' AND p.position < o.position))
"""
#: The first due rows of every receiver with pending rows, as many as its room, numbered by
#: turn ($1: now; $2, $3: the receivers with attempts in flight and how many; $4: the cap per
#: receiver; $5: the most rows per receiver). Receivers are found one at a time through the
#: index (a loose index scan), less paused endpoints.
CANDIDATES = f"""
WITH RECURSIVE receivers AS (
    (SELECT receiver AS id FROM outbox
     WHERE status = 'pending' AND receiver IS NOT NULL ORDER BY receiver LIMIT 1)
    UNION ALL
    SELECT (SELECT o.receiver FROM outbox o
            WHERE o.status = 'pending' AND o.receiver > r.id ORDER BY o.receiver LIMIT 1)
    FROM receivers r WHERE r.id IS NOT NULL
), busy AS (
    SELECT b.receiver, sum(b.n) AS n FROM unnest($2::uuid[], $3::bigint[]) AS b(receiver, n)
    GROUP BY b.receiver
)
SELECT c.id, c.org_id, c.next_attempt_at, c.position,
       row_number() OVER (PARTITION BY r.id ORDER BY c.next_attempt_at, c.position) - 1
           AS turn
FROM receivers r
LEFT JOIN webhook_endpoints e ON e.id = r.id
LEFT JOIN busy b ON b.receiver = r.id
CROSS JOIN LATERAL (
    SELECT o.id, o.org_id, o.next_attempt_at, o.position FROM outbox o
    WHERE o.receiver = r.id AND {DUE}
    ORDER BY o.next_attempt_at, o.position
    LIMIT least($5, greatest($4 - coalesce(b.n, 0), 0))
) c
WHERE r.id IS NOT NULL AND (e.id IS NULL OR e.status = 'active')
"""
#: Due timers ($1: now, $2: how many).
TIMERS_DUE = f"""
SELECT o.id, o.org_id, o.next_attempt_at, o.position FROM outbox o
WHERE o.receiver IS NULL AND {DUE}
ORDER BY o.next_attempt_at, o.position LIMIT $2
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
#: Lease the new head of a FIFO queue ($1: fifo key, $2: owner, $3: lease end, $4: now) if it
#: may be sent now, as a claim would find it, and return it with its target. A head locked
#: elsewhere (being cancelled or replayed) is left to a claim rather than waited for.
NEXT_IN_LINE = f"""
WITH head AS (
    SELECT id FROM outbox WHERE fifo_key = $1 AND status = 'pending'
    ORDER BY position LIMIT 1
), free AS (
    SELECT o.id FROM outbox o
    JOIN head h ON h.id = o.id
    LEFT JOIN webhook_endpoints e ON e.id = o.endpoint_id
    WHERE o.status = 'pending' AND o.next_attempt_at <= $4
      AND (o.lease_until IS NULL OR o.lease_until < $4)
      AND (o.endpoint_id IS NULL OR e.status = 'active')
    FOR UPDATE OF o SKIP LOCKED
), leased AS (
    UPDATE outbox SET lease_owner = $2, lease_until = $3
    FROM free WHERE outbox.id = free.id
    RETURNING outbox.id
)
{WITH_TARGET} JOIN leased l ON l.id = o.id
"""
#: Lease rows ($1: ids, $2: owner, $3: lease end, $4: now) and return them with their target.
#: Rows locked elsewhere (an endpoint's pending rows being cancelled) are skipped, not waited
#: for: a claim holding some rows while waiting for others could deadlock with that.
LEASE = f"""
WITH free AS (
    SELECT id FROM outbox
    WHERE id = ANY($1::text[]) AND status = 'pending'
      AND (lease_until IS NULL OR lease_until < $4)
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE outbox SET lease_owner = $2, lease_until = $3
    FROM free WHERE outbox.id = free.id
    RETURNING outbox.id
)
{WITH_TARGET} JOIN leased l ON l.id = o.id
"""


async def targets(c: asyncpg.Connection, conversation: Conversation) -> Targets:
    """What the outbox may address for a change of ``conversation``."""
    return (await targets_of(c, [conversation]))[conversation.id]


async def targets_of(
    c: asyncpg.Connection, conversations: Sequence[Conversation]
) -> dict[str, Targets]:
    """``targets`` of several conversations, by id: a query for each kind of target that
    some of them may have (endpoints of their orgs, live-agent widgets, webhook bots and
    the contacts those bots hear of), however many conversations."""
    endpoints: dict[str, list[WebhookEndpoint]] = defaultdict(list)
    for row in await c.fetch(
        "SELECT * FROM webhook_endpoints WHERE org_id = ANY($1::uuid[]) AND status != 'disabled'"
        " ORDER BY created_at, id",
        list({v.org_id for v in conversations}),
    ):
        endpoint = records.webhook_endpoint(row)
        endpoints[endpoint.org_id].append(endpoint)
    widgets = await _by_id(
        c,
        records.widget,
        "SELECT * FROM widgets WHERE id = ANY($1::uuid[]) AND live_agent_endpoint_url IS NOT NULL",
        {v.widget_id for v in conversations},
    )
    bots = await _by_id(
        c,
        records.bot,
        "SELECT * FROM bots WHERE id = ANY($1::uuid[]) AND kind = 'webhook'"
        " AND webhook_url IS NOT NULL",
        {v.bot_id for v in conversations},
    )
    contacts = await _by_id(
        c,
        records.contact,
        "SELECT * FROM contacts WHERE id = ANY($1::uuid[])",
        {v.contact_id for v in conversations if v.bot_id in bots},
    )
    return {
        v.id: Targets(
            tuple(endpoints.get(v.org_id, ())),
            widgets.get(v.widget_id),
            bots.get(v.bot_id),
            contacts.get(v.contact_id) if v.bot_id in bots else None,
        )
        for v in conversations
    }


async def _by_id(
    c: asyncpg.Connection, decode: Callable[[Any], T], sql: str, ids: set[str | None]
) -> dict[str | None, T]:
    """The rows ``sql`` finds among ``ids`` (``$1``), decoded, by id; no query for no ids."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {row["id"]: decode(row) for row in await c.fetch(sql, wanted)}


async def insert(c: asyncpg.Connection, items: Iterable[OutboxItem], at: datetime) -> None:
    rows = [columns.outbox_item(i, at, POSTGRES) for i in items]
    if not rows:
        return
    await c.executemany(
        "INSERT INTO outbox (id, message_id, org_id, target, event_type, payload, endpoint_id,"
        " widget_id, conversation_id, seq, fifo_key, receiver, status, next_attempt_at,"
        " created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', $13, $14)",
        rows,
    )


class Outbox(Database):
    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        async with self._transaction() as conn:
            await insert(conn, items, at)

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
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK)
            busy = await conn.fetch(BUSY, at)
            busy_by_org: Counter[str] = Counter()
            for b in busy:
                busy_by_org[b["org_id"]] += b["n"]
            rows = await conn.fetch(
                CANDIDATES,
                at,
                [b["receiver"] for b in busy],
                [b["n"] for b in busy],
                claims.room(per_receiver, 0),
                limit,
            )
            candidates = [_candidate(r, r["turn"]) for r in rows]
            timers = await conn.fetch(TIMERS_DUE, at, limit)
            candidates.extend(_candidate(r, turn, capped=False) for turn, r in enumerate(timers))
            ids = claims.pick(candidates, busy_by_org, per_org, limit)
            if not ids:
                return []
            leased = await conn.fetch(LEASE, ids, owner, at + lease, at)
        order = {i: n for n, i in enumerate(ids)}
        leased.sort(key=lambda r: order[r["id"]])
        return [records.delivery(r, at) for r in leased]

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        async with self._transaction() as conn:
            return await _finish(conn, delivery, outcome, at)

    async def finish_and_claim_next(
        self,
        delivery: Delivery,
        outcome: DeliveryOutcome,
        at: datetime,
        owner: str,
        lease: timedelta,
    ) -> Delivery | None:
        async with self._transaction() as conn:
            if not await _finish(conn, delivery, outcome, at) or outcome.status == "pending":
                return None
            if delivery.fifo_key is None:
                return None
            head = await conn.fetchrow(NEXT_IN_LINE, delivery.fifo_key, owner, at + lease, at)
        return None if head is None else records.delivery(head, at)

    async def next_delivery_due(self, after: datetime) -> datetime | None:
        async with self._connection() as conn:
            due: datetime | None = await conn.fetchval(
                "SELECT min(next_attempt_at) FROM outbox"
                " WHERE status = 'pending' AND next_attempt_at > $1",
                after,
            )
        return due

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        status = await self._execute(
            """
            WITH gone AS (
                SELECT position, id FROM outbox
                WHERE status <> 'pending' AND finished_at < $1
                ORDER BY finished_at LIMIT $2
                FOR UPDATE SKIP LOCKED
            ), attempts AS (
                DELETE FROM delivery_attempts a USING gone WHERE a.delivery_id = gone.id
            )
            DELETE FROM outbox o USING gone WHERE o.position = gone.position
            """,
            before,
            limit,
        )
        return rowcount(status)

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
            "UPDATE webhook_endpoints SET failing_since = NULL"
            " WHERE id = $1 AND failing_since IS NOT NULL",
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


def _candidate(r: asyncpg.Record, turn: int, *, capped: bool = True) -> claims.Candidate:
    return claims.Candidate(
        r["id"], str(r["org_id"]), turn, r["next_attempt_at"], r["position"], capped
    )
