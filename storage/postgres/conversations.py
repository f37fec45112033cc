"""PostgreSQL: conversations, their messages and change events, read positions, the monthly
message count. The files a message carries are recorded as files of its conversation.

Writers of one conversation serialize on its row (``SELECT ... FOR UPDATE`` in the write's
transaction), so seqs stay gap-free and unique whichever process writes. ``apply`` calls are
group-committed: those that arrive together share one transaction (``group_commit.py``,
``applies.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage import columns, outbox, records
from storage.base import Decide, StoredEvent
from storage.models import Applied, Conversation, Message
from storage.postgres import outbox as postgres_outbox
from storage.postgres.applies import Unit, apply_batch
from storage.postgres.database import Database
from storage.postgres.group_commit import GroupCommit
from storage.postgres.values import POSTGRES

__all__ = ["Conversations"]

CONVERSATION_COLUMNS = (
    "id, org_id, widget_id, contact_id, status, handler, epoch, assignee_id, created_at,"
    " updated_at, resolved_at, ended_at, live_agent_handoff_at, first_response_at, last_seq,"
    " metadata, channel, bot_id"
)
#: Placeholders for ``CONVERSATION_COLUMNS``, in order.
CONVERSATION_VALUES = ", ".join(f"${n + 1}" for n in range(CONVERSATION_COLUMNS.count(",") + 1))

_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
)
_PUBLIC_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 AND NOT private"
    " ORDER BY seq LIMIT $3"
)


class Conversations(Database):
    _applies: GroupCommit[Unit, Applied] | None = None

    async def start(self) -> None:
        await super().start()
        self._applies = GroupCommit(self._apply_batch)

    async def aclose(self) -> None:
        # The applies still queued or running commit before the pool closes.
        applies, self._applies = self._applies, None
        if applies is not None:
            await applies.aclose()
        await super().aclose()

    async def _apply_batch(self, units: Sequence[Unit]) -> list[Applied | BaseException]:
        return await apply_batch(self._connection, units)

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
        if self._applies is None:
            raise RuntimeError("the store is not started (or already closed)")
        unit = Unit.of(org_id, conversation_id, decide, client_message_id)
        return await self._applies.submit(unit)

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
