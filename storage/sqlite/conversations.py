"""SQLite: conversations, their messages and change events, read positions, the monthly
message count. The files a message carries are recorded as files of its conversation.

``apply`` is one write transaction on the writer thread: SQLite's single writer is what holds
the conversation, so its seqs stay gap-free and unique, also against another process on the
same file (``BEGIN IMMEDIATE`` waits for the file's write lock).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from protocol.errors import GatewayError
from storage import columns, outbox, records
from storage.base import Decide, StoredEvent
from storage.execution import check_quota, counted_messages, execute, month_of, month_start
from storage.models import Applied, Conversation, Message, OutboxItem, now
from storage.sqlite import outbox as sqlite_outbox
from storage.sqlite.database import Database
from storage.sqlite.files import LINK_ATTACHED
from storage.sqlite.values import SQLITE, ts

__all__ = ["Conversations"]


_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
_PUBLIC_MESSAGES_AFTER = (
    "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? AND NOT private"
    " ORDER BY seq LIMIT ?"
)


class Conversations(Database):
    async def create_conversation(self, conversation: Conversation) -> None:
        def txn(c: sqlite3.Connection) -> None:
            _insert_conversation(c, conversation)
            targets = sqlite_outbox.targets(c, conversation)
            at = conversation.created_at
            sqlite_outbox.insert(c, outbox.derive_created(conversation, targets, at), at)

        await self._write(txn)

    async def get_conversation(self, org_id: str, conversation_id: str) -> Conversation | None:
        return await self._one(
            records.conversation,
            "SELECT * FROM conversations WHERE id = ? AND org_id = ?",
            (conversation_id, org_id),
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
        where = ["org_id = ?"]
        params: list[Any] = [org_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if contact_id is not None:
            where.append("contact_id = ?")
            params.append(contact_id)
        if before is not None:
            where.append("(created_at, id) < (?, ?)")
            params.extend([ts(before[0]), before[1]])
        sql = (
            f"SELECT * FROM conversations WHERE {' AND '.join(where)}"
            " ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        return await self._all(records.conversation, sql, (*params, limit))

    async def apply(
        self,
        org_id: str,
        conversation_id: str,
        decide: Decide,
        *,
        client_message_id: str | None = None,
    ) -> Applied:
        at = now()

        def txn(c: sqlite3.Connection) -> Applied:
            row = c.execute(
                "SELECT * FROM conversations WHERE id = ? AND org_id = ?",
                (conversation_id, org_id),
            ).fetchone()
            if row is None:
                raise GatewayError.not_found("conversation")
            conversation = records.conversation(row)
            if client_message_id is not None:
                existing = c.execute(
                    "SELECT * FROM messages WHERE conversation_id = ? AND client_message_id = ?",
                    (conversation_id, client_message_id),
                ).fetchone()
                if existing is not None:
                    return Applied(conversation, (), (), replayed=records.message(existing))
            done = execute(conversation, decide(conversation), at)
            _count_messages(c, org_id, counted_messages(done.messages), at)
            c.executemany(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [columns.message(m, SQLITE) for m in done.messages],
            )
            c.executemany(LINK_ATTACHED, columns.attached_files(org_id, done.messages))
            c.executemany(
                "INSERT INTO conversation_changes VALUES (?, ?, ?, ?)",
                columns.changes(conversation_id, done.changes, at, SQLITE),
            )
            items: Sequence[OutboxItem] = done.outbox
            if done.events:
                _update_conversation(c, done.conversation)
                targets = sqlite_outbox.targets(c, done.conversation)
                items = outbox.derive_applied(done, targets, at)
            if items:
                sqlite_outbox.insert(c, items, at)
            return Applied(done.conversation, done.events, done.messages, outbox=bool(items))

        return await self._write(txn)

    async def read_events(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[StoredEvent]:
        def query(c: sqlite3.Connection) -> list[StoredEvent]:
            messages = c.execute(
                _MESSAGES_AFTER if with_private else _PUBLIC_MESSAGES_AFTER,
                (conversation_id, after_seq, limit),
            ).fetchall()
            changes = c.execute(
                "SELECT seq, data FROM conversation_changes WHERE conversation_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (conversation_id, after_seq, limit),
            ).fetchall()
            return records.events(conversation_id, messages, changes, limit)

        return await self._read(query)

    async def list_messages(
        self, conversation_id: str, after_seq: int, limit: int, *, with_private: bool = True
    ) -> list[Message]:
        return await self._all(
            records.message,
            _MESSAGES_AFTER if with_private else _PUBLIC_MESSAGES_AFTER,
            (conversation_id, after_seq, limit),
        )

    async def last_seq(self, conversation_id: str) -> int | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT last_seq FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
        )
        return None if row is None else int(row["last_seq"])

    async def mark_read(self, conversation_id: str, reader: str, seq: int, at: datetime) -> int:
        def txn(c: sqlite3.Connection) -> int:
            c.execute(
                "INSERT INTO read_cursors VALUES (?, ?, ?, ?)"
                " ON CONFLICT (conversation_id, reader) DO UPDATE"
                " SET seq = max(seq, excluded.seq), updated_at = excluded.updated_at",
                (conversation_id, reader, seq, ts(at)),
            )
            row = c.execute(
                "SELECT seq FROM read_cursors WHERE conversation_id = ? AND reader = ?",
                (conversation_id, reader),
            ).fetchone()
            return int(row["seq"])

        return await self._write(txn)

    async def monthly_messages(self, org_id: str, month: str) -> int | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT messages FROM message_usage WHERE org_id = ? AND month = ?",
                (org_id, month),
            ).fetchone()
        )
        return None if row is None else int(row["messages"])


def _count_messages(c: sqlite3.Connection, org_id: str, adding: int, at: datetime) -> None:
    """Count ``adding`` messages against the org's monthly limit, if it has one."""
    if not adding:
        return
    org = c.execute("SELECT monthly_message_limit FROM orgs WHERE id = ?", (org_id,)).fetchone()
    limit = org["monthly_message_limit"]
    if limit is None:
        return
    month = month_of(at)
    row = c.execute(
        "SELECT messages FROM message_usage WHERE org_id = ? AND month = ?", (org_id, month)
    ).fetchone()
    if row is not None:
        used = int(row["messages"])
    else:
        used = c.execute(
            "SELECT count(*) AS n FROM messages m JOIN conversations v ON v.id = m.conversation_id"
            " WHERE v.org_id = ? AND m.role <> 'system' AND m.created_at >= ?",
            (org_id, ts(month_start(at))),
        ).fetchone()["n"]
    check_quota(limit, used, adding)
    c.execute(
        "INSERT INTO message_usage VALUES (?, ?, ?)"
        " ON CONFLICT (org_id, month) DO UPDATE SET messages = excluded.messages",
        (org_id, month, used + adding),
    )


def _insert_conversation(c: sqlite3.Connection, v: Conversation) -> None:
    c.execute(
        "INSERT INTO conversations (id, org_id, widget_id, contact_id, status, handler, epoch,"
        " assignee_id, created_at, updated_at, resolved_at, ended_at, live_agent_handoff_at,"
        " first_response_at, last_seq, metadata, channel, bot_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        columns.conversation(v, SQLITE),
    )


def _update_conversation(c: sqlite3.Connection, v: Conversation) -> None:
    conversation_id, *values = columns.conversation(v, SQLITE)
    c.execute(
        "UPDATE conversations SET org_id = ?, widget_id = ?, contact_id = ?, status = ?,"
        " handler = ?, epoch = ?, assignee_id = ?, created_at = ?, updated_at = ?,"
        " resolved_at = ?, ended_at = ?, live_agent_handoff_at = ?, first_response_at = ?,"
        " last_seq = ?, metadata = ?, channel = ?, bot_id = ? WHERE id = ?",
        (*values, conversation_id),
    )
