"""PostgreSQL: everything a batch of ``apply`` units writes, in one statement.

The rows of each table travel as one array per column and come back out of ``unnest``, so one
statement inserts the batch's messages, change events, file links and outbox rows, sets the
monthly counts and updates each conversation once, to its state after the batch's last change
of it: one round trip, however many units and whatever each planned. The data-modifying
``WITH`` clauses all run, in one snapshot; none reads what another writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from storage import columns
from storage.execution import Execution
from storage.models import Conversation, OutboxItem
from storage.postgres.values import POSTGRES

__all__ = ["BatchWrite"]

Columns = Sequence[tuple[str, str]]

#: Each table's columns, in the order of its row in ``storage.columns``, with their types.
MESSAGE: Columns = (
    ("id", "uuid"),
    ("conversation_id", "uuid"),
    ("seq", "bigint"),
    ("role", "text"),
    ("sender_id", "text"),
    ("content", "text"),
    ("attachments", "jsonb"),
    ("metadata", "jsonb"),
    ("client_message_id", "text"),
    ("created_at", "timestamptz"),
    ("private", "boolean"),
)
CHANGE: Columns = (
    ("conversation_id", "uuid"),
    ("seq", "bigint"),
    ("data", "jsonb"),
    ("created_at", "timestamptz"),
)
#: A message's attachment: linked to the conversation when it is a stored file of the org.
ATTACHED: Columns = (("org_id", "uuid"), ("sha256", "text"), ("conversation_id", "uuid"))
OUTBOX: Columns = (
    ("id", "text"),
    ("message_id", "text"),
    ("org_id", "uuid"),
    ("target", "text"),
    ("event_type", "text"),
    ("payload", "bytea"),
    ("endpoint_id", "uuid"),
    ("widget_id", "uuid"),
    ("conversation_id", "uuid"),
    ("seq", "bigint"),
    ("fifo_key", "text"),
    ("receiver", "uuid"),
    ("next_attempt_at", "timestamptz"),
    ("created_at", "timestamptz"),
)
COUNT: Columns = (("org_id", "uuid"), ("month", "text"), ("messages", "bigint"))
CONVERSATION: Columns = (
    ("id", "uuid"),
    ("org_id", "uuid"),
    ("widget_id", "uuid"),
    ("contact_id", "uuid"),
    ("status", "text"),
    ("handler", "text"),
    ("epoch", "integer"),
    ("assignee_id", "uuid"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("resolved_at", "timestamptz"),
    ("ended_at", "timestamptz"),
    ("live_agent_handoff_at", "timestamptz"),
    ("first_response_at", "timestamptz"),
    ("last_seq", "bigint"),
    ("metadata", "jsonb"),
    ("channel", "text"),
    ("bot_id", "uuid"),
)
#: The tables in the order of the statement's parameters.
TABLES = (MESSAGE, CHANGE, ATTACHED, OUTBOX, COUNT, CONVERSATION)


def _names(table: Columns) -> str:
    return ", ".join(name for name, _ in table)


def _values(table: Columns) -> str:
    """The columns of ``v``, JSON ones cast back from text."""
    return ", ".join(f"v.{name}::jsonb" if kind == "jsonb" else f"v.{name}" for name, kind in table)


def _unnest(table: Columns, first: int) -> str:
    """``unnest($first::type[], ...)``: the rows whose columns are parameters from ``first``.
    JSON travels as text: asyncpg would take a JSON array for a dimension of the array."""
    arrays = ", ".join(
        f"${first + n}::{'text' if kind == 'jsonb' else kind}[]"
        for n, (_, kind) in enumerate(table)
    )
    return f"unnest({arrays})"


def _statement() -> str:
    first = [1]
    for table in TABLES[:-1]:
        first.append(first[-1] + len(table))
    m, ch, a, o, n, c = (_unnest(table, at) for table, at in zip(TABLES, first, strict=True))
    return f"""
WITH new_messages AS (
    INSERT INTO messages ({_names(MESSAGE)})
    SELECT {_values(MESSAGE)} FROM {m} AS v({_names(MESSAGE)})
), new_changes AS (
    INSERT INTO conversation_changes ({_names(CHANGE)})
    SELECT {_values(CHANGE)} FROM {ch} AS v({_names(CHANGE)})
), attached AS (
    INSERT INTO conversation_files (org_id, sha256, conversation_id)
    SELECT f.org_id, f.sha256, v.conversation_id FROM {a} AS v({_names(ATTACHED)})
    JOIN files f ON f.org_id = v.org_id AND f.sha256 = v.sha256
    ON CONFLICT DO NOTHING
), queued AS (
    INSERT INTO outbox ({_names(OUTBOX)}, status)
    SELECT {_values(OUTBOX)}, 'pending' FROM {o} WITH ORDINALITY AS v({_names(OUTBOX)}, n)
    ORDER BY v.n
), counted AS (
    UPDATE message_usage u SET messages = v.messages FROM {n} AS v({_names(COUNT)})
    WHERE u.org_id = v.org_id AND u.month = v.month
)
UPDATE conversations c SET ({_names(CONVERSATION)}) = ({_values(CONVERSATION)})
FROM {c} AS v({_names(CONVERSATION)}) WHERE c.id = v.id
"""


WRITE = _statement()


class BatchWrite:
    """The rows a batch's units planned, written by ``flush`` in one statement."""

    def __init__(self, at: datetime) -> None:
        self._at = at
        self._messages: list[tuple[Any, ...]] = []
        self._changes: list[tuple[Any, ...]] = []
        self._attached: dict[tuple[str, str, str], None] = {}
        self._outbox: list[tuple[Any, ...]] = []
        self._counts: dict[tuple[str, str], int] = {}
        self._conversations: dict[str, Conversation] = {}

    def add(self, org_id: str, done: Execution, outbox: Iterable[OutboxItem]) -> None:
        """One unit's execution, and the outbox rows it calls for, after those added before."""
        at = self._at
        self._messages.extend(columns.message(m, POSTGRES) for m in done.messages)
        self._changes.extend(columns.changes(done.conversation.id, done.changes, at, POSTGRES))
        self._attached.update(dict.fromkeys(columns.attached_files(org_id, done.messages)))
        self._outbox.extend(columns.outbox_item(i, at, POSTGRES) for i in outbox)
        if done.events:
            self._conversations[done.conversation.id] = done.conversation

    def count(self, org_id: str, month: str, messages: int) -> None:
        """Set the org's count of messages for ``month`` (the batch's last count wins)."""
        self._counts[(org_id, month)] = messages

    async def flush(self, conn: asyncpg.Connection) -> None:
        if not (self._messages or self._changes or self._outbox or self._conversations):
            return
        tables = (
            self._messages,
            self._changes,
            list(self._attached),
            self._outbox,
            [(org, month, n) for (org, month), n in self._counts.items()],
            [columns.conversation(v, POSTGRES) for v in self._conversations.values()],
        )
        arrays: list[list[Any]] = []
        for table, rows in zip(TABLES, tables, strict=True):
            arrays.extend(_by_column(table, rows))
        await conn.execute(WRITE, *arrays)


def _by_column(table: Columns, rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """The rows as one list per column of ``table`` (empty lists for no rows)."""
    if not rows:
        return [[] for _ in table]
    return [
        [_json(value) for value in values] if kind == "jsonb" else list(values)
        for (_, kind), values in zip(table, zip(*rows, strict=True), strict=True)
    ]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
