"""PostgreSQL: ``Store.apply`` for a batch of calls in one transaction (``group_commit.py``
forms the batches; ``batch_write.py`` writes what they planned).

Together, a batch costs the round trips of a single apply: BEGIN; one statement that locks
every conversation of the batch and reads what their changes may need; then each unit in
turn, in memory: its ``client_message_id`` replay, ``decide`` on the conversation as the units
before it left it (so units of one conversation take consecutive seqs), the monthly quota;
then one statement that writes what every unit planned; COMMIT. When some unit needs them,
the replays of ``client_message_id`` and the monthly counts of orgs with a limit cost one
more round trip each, and the outbox's targets one per kind, for the whole batch.

Locks are taken in one order by every batch, whichever process runs it: the conversations in
id order, then the monthly counts in org order. Batches therefore never wait for each other in
a circle; a deadlock with some other writer is retried.

A unit refused by ``decide`` or by the quota fails alone and writes nothing; the others go on.
A unit whose SQL fails (a row the database refuses) fails the batch's write: the transaction
is rolled back and the batch runs again unit by unit, each in a savepoint of one transaction,
so that this unit fails alone (``StorageError``) and the others commit. ``decide`` may thus
run more than once for a unit, each time on the conversation as it is then.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from protocol.errors import GatewayError
from storage import outbox, records
from storage.base import Decide
from storage.errors import StorageError
from storage.execution import (
    Execution,
    check_quota,
    counted_messages,
    execute,
    month_of,
    month_start,
)
from storage.models import Applied, Conversation, Message, now
from storage.postgres import outbox as postgres_outbox
from storage.postgres.batch_write import BatchWrite

__all__ = ["Unit", "apply_batch"]

#: Locks the conversations ``$1`` in id order, and reads with each whether the org counts
#: its messages and whether anything (endpoints, a live-agent platform, a webhook bot) may
#: be addressed: most changes need no further read.
LOCK = """
SELECT c.*, o.monthly_message_limit,
    EXISTS (SELECT 1 FROM webhook_endpoints e
            WHERE e.org_id = c.org_id AND e.status != 'disabled') AS has_endpoints,
    EXISTS (SELECT 1 FROM widgets w
            WHERE w.id = c.widget_id AND w.live_agent_endpoint_url IS NOT NULL) AS has_live_agent,
    EXISTS (SELECT 1 FROM bots b
            WHERE b.id = c.bot_id AND b.kind = 'webhook') AS has_webhook_bot
FROM conversations c JOIN orgs o ON o.id = c.org_id
WHERE c.id = ANY($1::uuid[])
ORDER BY c.id
FOR UPDATE OF c
"""
#: The messages stored under the (conversation, ``client_message_id``) pairs ``$1``, ``$2``.
#: Read after LOCK, in a statement of its own: one that waited for a lock would still read
#: from the snapshot it began with.
REPLAYS = """
SELECT m.* FROM messages m
JOIN unnest($1::uuid[], $2::text[]) AS k(conversation_id, client_message_id)
    ON m.conversation_id = k.conversation_id AND m.client_message_id = k.client_message_id
"""
#: Locks the counts of the orgs ``$1`` for the month ``$2``, in org order.
LOCK_COUNTS = (
    "SELECT org_id, messages FROM message_usage WHERE org_id = ANY($1::uuid[]) AND month = $2"
    " ORDER BY org_id FOR UPDATE"
)
#: Starts the month's count of the orgs ``$1`` from what is stored since ``$3``, once. Of two
#: first writers, the second's insert waits for the first's commit and does nothing.
START_COUNTS = """
INSERT INTO message_usage
SELECT o.id, $2, (SELECT count(*) FROM messages m JOIN conversations v ON v.id = m.conversation_id
                  WHERE v.org_id = o.id AND m.role <> 'system' AND m.created_at >= $3)
FROM unnest($1::uuid[]) AS o(id) ORDER BY o.id
ON CONFLICT DO NOTHING
"""
#: How many times a batch whose transaction was chosen to break a deadlock runs again.
DEADLOCK_RETRIES = 3
#: Failures of the connection or of the server, not of some unit's rows: running the batch
#: unit by unit would not help (deadlocks are retried as they are).
_NOT_A_UNIT = (
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.TransactionRollbackError,
)

Outcome = Applied | BaseException
Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


@dataclass(frozen=True, slots=True)
class Unit:
    """One ``apply`` call; ids in their canonical form (``Unit.of``)."""

    org_id: str
    conversation_id: str
    decide: Decide
    client_message_id: str | None = None

    @classmethod
    def of(
        cls, org_id: str, conversation_id: str, decide: Decide, client_message_id: str | None
    ) -> Unit:
        """Raises ``not_found`` for an id that is no uuid: no conversation has it."""
        try:
            org, conversation = str(uuid.UUID(org_id)), str(uuid.UUID(conversation_id))
        except ValueError:
            raise GatewayError.not_found("conversation") from None
        return cls(org, conversation, decide, client_message_id)


async def apply_batch(connect: Connect, units: Sequence[Unit]) -> list[Outcome]:
    """Apply ``units`` in one transaction on a connection of ``connect``.

    Returns, in order, each unit's ``Applied`` or what it failed with (``GatewayError`` from
    ``decide`` or the quota, ``StorageError`` for rows the database refused), once committed.

    Raises:
        StorageError: the transaction failed as a whole (the connection, the server): none
            of it is committed, or, when the COMMIT itself failed, it is unknown whether it is.
    """
    at = now()
    run = _together
    deadlocks = 0
    while True:
        try:
            return await _transaction(connect, run, units, at)
        except _Undone as undone:
            cause = undone.__cause__
            if isinstance(cause, asyncpg.DeadlockDetectedError) and deadlocks < DEADLOCK_RETRIES:
                deadlocks += 1
            elif run is _together and _of_a_unit(cause):
                run = _one_by_one
            else:
                raise StorageError(f"postgres: {cause}") from cause


class _Undone(Exception):
    """The batch's transaction failed before its COMMIT (``__cause__`` says why) and was rolled
    back: nothing of it is committed, so it may run again."""


#: Runs units in a transaction (``_together`` or ``_one_by_one``).
Run = Callable[[asyncpg.Connection, Sequence[Unit], datetime], Awaitable[list[Outcome]]]


async def _transaction(
    connect: Connect, run: Run, units: Sequence[Unit], at: datetime
) -> list[Outcome]:
    async with connect() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            outcomes = await run(conn, units, at)
        except Exception as exc:
            await transaction.rollback()
            raise _Undone from exc
        await transaction.commit()
    return outcomes


def _of_a_unit(exc: BaseException | None) -> bool:
    """Whether ``exc`` may be some unit's doing: a row or a value the database refused, or a
    value the driver could not encode (asyncpg raises a ``ValueError`` then)."""
    if isinstance(exc, ValueError | TypeError):
        return True
    return isinstance(exc, asyncpg.PostgresError) and not isinstance(exc, _NOT_A_UNIT)


async def _together(conn: asyncpg.Connection, units: Sequence[Unit], at: datetime) -> list[Outcome]:
    batch = await _Batch.lock(conn, units, at)
    await batch.read_replays(conn, units)
    outcomes: list[Outcome] = []
    for unit in units:
        try:
            outcomes.append(batch.apply(unit))
        except Exception as exc:  # refused (or a bad plan): this unit alone, nothing written
            outcomes.append(exc)
    await batch.write(conn)
    return outcomes


async def _one_by_one(
    conn: asyncpg.Connection, units: Sequence[Unit], at: datetime
) -> list[Outcome]:
    # Every lock first, as ``_together`` takes them: in one order, whichever unit needs what.
    await _Batch.lock(conn, units, at)
    outcomes: list[Outcome] = []
    for unit in units:
        try:
            async with conn.transaction():  # a savepoint: this unit is undone alone
                (outcome,) = await _together(conn, [unit], at)
        except Exception as exc:
            if not _of_a_unit(exc):
                raise
            outcome = StorageError(f"postgres: {exc}")
            outcome.__cause__ = exc
        outcomes.append(outcome)
    return outcomes


@dataclass(slots=True)
class _Batch:
    """A batch's locked conversations, as its units leave them one after the other, and
    what they planned."""

    at: datetime
    rows: dict[str, asyncpg.Record]
    conversations: dict[str, Conversation]
    #: Messages counted this month by the orgs with a limit, locked.
    counts: dict[str, int]
    replays: dict[tuple[str, str], Message] = field(default_factory=dict)
    #: Orgs whose count the units changed.
    counted: set[str] = field(default_factory=set)
    done: list[tuple[asyncpg.Record, Execution]] = field(default_factory=list)

    @classmethod
    async def lock(cls, conn: asyncpg.Connection, units: Sequence[Unit], at: datetime) -> _Batch:
        ids = sorted({unit.conversation_id for unit in units})
        rows = {row["id"]: row for row in await conn.fetch(LOCK, ids)}
        limited = sorted(
            {r["org_id"] for r in rows.values() if r["monthly_message_limit"] is not None}
        )
        counts = await _lock_counts(conn, limited, at) if limited else {}
        conversations = {cid: records.conversation(row) for cid, row in rows.items()}
        return cls(at, rows, conversations, counts)

    async def read_replays(self, conn: asyncpg.Connection, units: Sequence[Unit]) -> None:
        keys = {
            (unit.conversation_id, unit.client_message_id)
            for unit in units
            if unit.client_message_id is not None and unit.conversation_id in self.rows
        }
        if not keys:
            return
        conversation_ids, client_ids = zip(*keys, strict=True)
        for row in await conn.fetch(REPLAYS, list(conversation_ids), list(client_ids)):
            self.replays[(row["conversation_id"], row["client_message_id"])] = records.message(row)

    def apply(self, unit: Unit) -> Applied:
        """``unit`` on the conversation as the units before it left it, in memory."""
        row = self.rows.get(unit.conversation_id)
        if row is None or row["org_id"] != unit.org_id:
            raise GatewayError.not_found("conversation")
        conversation = self.conversations[unit.conversation_id]
        if unit.client_message_id is not None:
            replayed = self.replays.get((conversation.id, unit.client_message_id))
            if replayed is not None:
                return Applied(conversation, (), (), replayed=replayed)
        done = execute(conversation, unit.decide(conversation), self.at)
        adding = counted_messages(done.messages)
        limit = row["monthly_message_limit"]
        if limit is not None and adding:
            check_quota(limit, self.counts[unit.org_id], adding)
            self.counts[unit.org_id] += adding
            self.counted.add(unit.org_id)
        self.conversations[conversation.id] = done.conversation
        for message in done.messages:
            if message.client_message_id is not None:
                self.replays[(conversation.id, message.client_message_id)] = message
        self.done.append((row, done))
        outboxed = bool(done.outbox) or (bool(done.events) and _addressed(row))
        return Applied(done.conversation, done.events, done.messages, outbox=outboxed)

    async def write(self, conn: asyncpg.Connection) -> None:
        """Write what the units planned, with the outbox rows their events call for."""
        addressed = {
            done.conversation.id: done.conversation
            for row, done in self.done
            if done.events and _addressed(row)
        }
        targets = {}
        if addressed:
            targets = await postgres_outbox.targets_of(conn, list(addressed.values()))
        write = BatchWrite(self.at)
        for row, done in self.done:
            if done.events:
                found = targets.get(done.conversation.id, outbox.Targets())
                write.add(row["org_id"], done, outbox.derive_applied(done, found, self.at))
            else:
                write.add(row["org_id"], done, done.outbox)
        month = month_of(self.at)
        for org_id in self.counted:
            write.count(org_id, month, self.counts[org_id])
        await write.flush(conn)


def _addressed(row: asyncpg.Record) -> bool:
    """Whether a conversation's events may call for outbox rows (LOCK's flags): an endpoint,
    a live-agent platform or a webhook bot to address."""
    return bool(row["has_endpoints"] or row["has_live_agent"] or row["has_webhook_bot"])


async def _lock_counts(conn: asyncpg.Connection, orgs: list[str], at: datetime) -> dict[str, int]:
    month = month_of(at)
    rows = await conn.fetch(LOCK_COUNTS, orgs, month)
    if len(rows) < len(orgs):
        found = {row["org_id"] for row in rows}
        missing = [org for org in orgs if org not in found]
        await conn.execute(START_COUNTS, missing, month, month_start(at))
        rows = await conn.fetch(LOCK_COUNTS, orgs, month)
    return {row["org_id"]: int(row["messages"]) for row in rows}
