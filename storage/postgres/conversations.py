"""PostgreSQL: conversations, their messages and change events, read positions, the monthly
message count. The files a message carries are recorded as files of its conversation.

Writers of one conversation serialize on its row (``SELECT ... FOR UPDATE`` in the write's
transaction), so seqs stay gap-free and unique whichever process writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from protocol.errors import GatewayError
from storage import columns, outbox, records
from storage.base import Decide, StoredEvent
from storage.execution import check_quota, counted_messages, execute, month_of, month_start
from storage.models import Applied, Conversation, Message, now
from storage.postgres import outbox as postgres_outbox
from storage.postgres.database import Database
from storage.postgres.files import LINK_ATTACHED
from storage.postgres.values import POSTGRES

__all__ = ["Conversations"]

CONVERSATION_COLUMNS = (
    "id, org_id, widget_id, contact_id, status, handler, epoch, assignee_id, created_at,"
    " updated_at, resolved_at, ended_at, live_agent_handoff_at, first_response_at, last_seq,"
    " metadata, channel, bot_id"
)
#: Placeholders for ``CONVERSATION_COLUMNS``, in order.
CONVERSATION_VALUES = ", ".join(f"${n + 1}" for n in range(CONVERSATION_COLUMNS.count(",") + 1))

#: ``apply``'s first read: the conversation, locked, and what the change may need next.
APPLY_QUERY = """
SELECT c.*, o.monthly_message_limit,
    EXISTS (SELECT 1 FROM webhook_endpoints e
            WHERE e.org_id = c.org_id AND e.status != 'disabled') AS has_endpoints,
    EXISTS (SELECT 1 FROM widgets w
            WHERE w.id = c.widget_id AND w.live_agent_endpoint_url IS NOT NULL) AS has_live_agent,
    EXISTS (SELECT 1 FROM bots b
            WHERE b.id = c.bot_id AND b.kind = 'webhook') AS has_webhook_bot
FROM conversations c JOIN orgs o ON o.id = c.org_id
WHERE c.id = $1 AND c.org_id = $2
FOR UPDATE OF c
"""
INSERT_MESSAGE = "INSERT INTO messages VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
UPDATE_CONVERSATION = (
    f"UPDATE conversations SET ({CONVERSATION_COLUMNS}) = ({CONVERSATION_VALUES}) WHERE id = $1"
)
_AFTER_CONVERSATION = CONVERSATION_COLUMNS.count(",") + 1
#: A message and its conversation's new state in one round trip (message values follow the
#: conversation's, numbered on from them).
UPDATE_WITH_MESSAGE = (
    "WITH message AS (INSERT INTO messages VALUES ("
    + ", ".join(f"${_AFTER_CONVERSATION + n}" for n in range(1, 12))
    + f")) {UPDATE_CONVERSATION}"
)
_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
)
_PUBLIC_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 AND NOT private"
    " ORDER BY seq LIMIT $3"
)


class Conversations(Database):
    async def create_conversation(self, conversation: Conversation) -> None:
        at = conversation.created_at
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
                f" VALUES ({CONVERSATION_VALUES})",
                *columns.conversation(conversation, POSTGRES),
            )
            targets = await postgres_outbox.targets(conn, conversation)
            await postgres_outbox.insert(conn, outbox.derive_created(conversation, targets, at), at)

    async def get_conversation(self, org_id: str, conversation_id: str) -> Conversation | None:
        return await self._one(
            records.conversation,
            "SELECT * FROM conversations WHERE id = $1 AND org_id = $2",
            conversation_id,
            org_id,
        )

    async def list_conversations(
        self,
        org_id: str,
        *,
        status: str | None = None,
        contact_id: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> list[Conversation]:
        where = ["org_id = $1"]
        params: list[Any] = [org_id]
        if status is not None:
            params.append(status)
            where.append(f"status = ${len(params)}")
        if contact_id is not None:
            params.append(contact_id)
            where.append(f"contact_id = ${len(params)}")
        if before is not None:
            params.extend(before)
            where.append(f"(created_at, id) < (${len(params) - 1}, ${len(params)}::uuid)")
        params.append(limit)
        sql = (
            f"SELECT * FROM conversations WHERE {' AND '.join(where)}"
            f" ORDER BY created_at DESC, id DESC LIMIT ${len(params)}"
        )
        return await self._all(records.conversation, sql, *params)

    async def apply(
        self,
        org_id: str,
        conversation_id: str,
        decide: Decide,
        *,
        client_message_id: str | None = None,
    ) -> Applied:
        at = now()
        async with self._transaction() as conn:
            # One round trip locks the conversation and says whether the org counts its
            # messages and whether anything (endpoints, a live-agent platform) may be
            # addressed: most changes need no further read.
            row = await conn.fetchrow(APPLY_QUERY, conversation_id, org_id)
            if row is None:
                raise GatewayError.not_found("conversation")
            conversation = records.conversation(row)
            if client_message_id is not None:
                existing = await conn.fetchrow(
                    "SELECT * FROM messages WHERE conversation_id = $1 AND client_message_id = $2",
                    conversation_id,
                    client_message_id,
                )
                if existing is not None:
                    return Applied(conversation, (), (), replayed=records.message(existing))
            done = execute(conversation, decide(conversation), at)
            limit = row["monthly_message_limit"]
            if limit is not None:
                await _count_messages(conn, org_id, limit, counted_messages(done.messages), at)
            if len(done.messages) == 1 and not done.changes:
                # The common change, one message, is one statement: insert and update.
                await conn.execute(
                    UPDATE_WITH_MESSAGE,
                    *columns.conversation(done.conversation, POSTGRES),
                    *columns.message(done.messages[0], POSTGRES),
                )
            else:
                if done.messages:
                    await conn.executemany(
                        INSERT_MESSAGE, [columns.message(m, POSTGRES) for m in done.messages]
                    )
                if done.changes:
                    await conn.executemany(
                        "INSERT INTO conversation_changes VALUES ($1, $2, $3, $4)",
                        columns.changes(conversation_id, done.changes, at, POSTGRES),
                    )
                if done.events:
                    values = columns.conversation(done.conversation, POSTGRES)
                    await conn.execute(UPDATE_CONVERSATION, *values)
            attached = columns.attached_files(org_id, done.messages)
            if attached:
                await conn.executemany(LINK_ATTACHED, attached)
            if done.events:
                targets = outbox.Targets()
                if row["has_endpoints"] or row["has_live_agent"] or row["has_webhook_bot"]:
                    targets = await postgres_outbox.targets(conn, done.conversation)
                await postgres_outbox.insert(conn, outbox.derive_applied(done, targets, at), at)
            elif done.outbox:
                await postgres_outbox.insert(conn, done.outbox, at)
        return Applied(done.conversation, done.events, done.messages)

    async def read_events(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[StoredEvent]:
        # One snapshot for both queries, so that the merge sees one consistent log.
        async with self._transaction(isolation="repeatable_read", readonly=True) as conn:
            messages = await conn.fetch(
                _MESSAGES_AFTER if with_private else _PUBLIC_MESSAGES_AFTER,
                conversation_id,
                after_seq,
                limit,
            )
            changes = await conn.fetch(
                "SELECT seq, data FROM conversation_changes"
                " WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                conversation_id,
                after_seq,
                limit,
            )
        return records.events(conversation_id, messages, changes, limit)

    async def list_messages(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[Message]:
        return await self._all(
            records.message,
            _MESSAGES_AFTER if with_private else _PUBLIC_MESSAGES_AFTER,
            conversation_id,
            after_seq,
            limit,
        )

    async def last_seq(self, conversation_id: str) -> int | None:
        async with self._connection() as conn:
            value = await conn.fetchval(
                "SELECT last_seq FROM conversations WHERE id = $1", conversation_id
            )
        return None if value is None else int(value)

    async def mark_read(self, conversation_id: str, reader: str, seq: int, at: datetime) -> int:
        async with self._connection() as conn:
            stored = await conn.fetchval(
                "INSERT INTO read_cursors VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (conversation_id, reader) DO UPDATE"
                " SET seq = GREATEST(read_cursors.seq, EXCLUDED.seq),"
                " updated_at = EXCLUDED.updated_at RETURNING seq",
                conversation_id,
                reader,
                seq,
                at,
            )
        return int(stored)

    async def monthly_messages(self, org_id: str, month: str) -> int | None:
        async with self._connection() as conn:
            value = await conn.fetchval(
                "SELECT messages FROM message_usage WHERE org_id = $1 AND month = $2",
                org_id,
                month,
            )
        return None if value is None else int(value)


async def _count_messages(
    conn: asyncpg.Connection, org_id: str, limit: int, adding: int, at: datetime
) -> None:
    """Count ``adding`` messages against the org's monthly ``limit``.

    The usage row is locked after the conversation (every writer takes them in that order),
    so concurrent sends of one org serialize on it only while they count.
    """
    if not adding:
        return
    month = month_of(at)
    lock = "SELECT messages FROM message_usage WHERE org_id = $1 AND month = $2 FOR UPDATE"
    used = await conn.fetchval(lock, org_id, month)
    if used is None:
        # Start the month's count from what is stored, once. Of two first writers, the
        # second's insert waits for the first's commit and does nothing.
        await conn.execute(
            "INSERT INTO message_usage SELECT $1, $2, count(*)"
            " FROM messages m JOIN conversations v ON v.id = m.conversation_id"
            " WHERE v.org_id = $1 AND m.role <> 'system' AND m.created_at >= $3"
            " ON CONFLICT DO NOTHING",
            org_id,
            month,
            month_start(at),
        )
        used = await conn.fetchval(lock, org_id, month)
    check_quota(limit, int(used), adding)
    await conn.execute(
        "UPDATE message_usage SET messages = messages + $3 WHERE org_id = $1 AND month = $2",
        org_id,
        month,
        adding,
    )
