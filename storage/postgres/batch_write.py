"""PostgreSQL: everything a batch of ``apply`` units writes, in one statement.

The rows of each table travel as one array per column and come back out of ``unnest``, so one
statement inserts the batch's messages, change events, file links and outbox rows, sets the
monthly counts and updates each conversation once, to its state after the batch's last change
of it: one round trip, however many units and whatever each planned. The statement holds a
part for each table that has rows (the last part is the statement, the others are data-
modifying ``WITH`` clauses: all run, in one snapshot, and none reads what another writes), so
there are a few statements in all, each prepared once per connection.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from storage import columns
from storage.execution import Execution
from storage.models import Conversation, OutboxItem
from storage.postgres.values import POSTGRES

__all__ = ["BatchWrite"]


@dataclass(frozen=True, slots=True)
class _Table:
    """A table's rows (columns and their types, in the order of its row in
    ``storage.columns``) and the statement that writes them, from the rows ``{rows} AS
    v({names})``: ``{rows}`` is ``unnest(...)`` of the arrays, ``{values}`` the columns of
    ``v``."""

    columns: tuple[tuple[str, str], ...]
    sql: str

    def part(self, first: int) -> str:
        """The statement, its arrays numbered from the parameter ``first``. JSON travels as
        text, cast back here: asyncpg would take a JSON array for a dimension of the array."""
        names = ", ".join(name for name, _ in self.columns)
        values = ", ".join(
            f"v.{name}::jsonb" if kind == "jsonb" else f"v.{name}" for name, kind in self.columns
        )
        arrays = ", ".join(
            f"${first + n}::{'text' if kind == 'jsonb' else kind}[]"
            for n, (_, kind) in enumerate(self.columns)
        )
        return self.sql.format(names=names, values=values, rows=f"unnest({arrays})")


MESSAGES = _Table(
    (
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
    ),
    "INSERT INTO messages ({names}) SELECT {values} FROM {rows} AS v({names})",
)
CHANGES = _Table(
    (
        ("conversation_id", "uuid"),
        ("seq", "bigint"),
        ("data", "jsonb"),
        ("created_at", "timestamptz"),
    ),
    "INSERT INTO conversation_changes ({names}) SELECT {values} FROM {rows} AS v({names})",
)
#: A message's attachment: linked to the conversation when it is a stored file of the org.
ATTACHED = _Table(
    (("org_id", "uuid"), ("sha256", "text"), ("conversation_id", "uuid")),
    "INSERT INTO conversation_files (org_id, sha256, conversation_id)"
    " SELECT f.org_id, f.sha256, v.conversation_id FROM {rows} AS v({names})"
    " JOIN files f ON f.org_id = v.org_id AND f.sha256 = v.sha256 ON CONFLICT DO NOTHING",
)
#: New deliveries: ``position`` numbers them in the order given.
OUTBOX = _Table(
    (
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
    ),
    "INSERT INTO outbox ({names}, status)"
    " SELECT {values}, 'pending' FROM {rows} WITH ORDINALITY AS v({names}, n) ORDER BY v.n",
)
#: The monthly counts of messages, locked by the batch beforehand.
COUNTS = _Table(
    (("org_id", "uuid"), ("month", "text"), ("messages", "bigint")),
    "UPDATE message_usage u SET messages = v.messages FROM {rows} AS v({names})"
    " WHERE u.org_id = v.org_id AND u.month = v.month",
)
CONVERSATIONS = _Table(
    (
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
    ),
    "UPDATE conversations c SET ({names}) = ({values}) FROM {rows} AS v({names}) WHERE c.id = v.id",
)


@functools.cache
def _statement(tables: tuple[_Table, ...]) -> str:
    """One statement that writes the rows of ``tables``, their arrays in that order."""
    parts = []
    first = 1
    for table in tables:
        parts.append(table.part(first))
        first += len(table.columns)
    *clauses, main = parts
    if not clauses:
        return main
    return "WITH " + ", ".join(f"w{n} AS ({sql})" for n, sql in enumerate(clauses)) + " " + main


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
        """Write the rows (nothing, and no round trip, when there are none)."""
        rows_of = (
            (MESSAGES, self._messages),
            (CHANGES, self._changes),
            (ATTACHED, list(self._attached)),
            (OUTBOX, self._outbox),
            (COUNTS, [(org, month, n) for (org, month), n in self._counts.items()]),
            (
                CONVERSATIONS,
                [columns.conversation(v, POSTGRES) for v in self._conversations.values()],
            ),
        )
        tables = tuple(table for table, rows in rows_of if rows)
        if not tables:
            return
        arrays = [array for table, rows in rows_of if rows for array in _by_column(table, rows)]
        await conn.execute(_statement(tables), *arrays)


def _by_column(table: _Table, rows: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
    """The rows as one list per column of ``table``, JSON encoded."""
    return [
        [_json(value) for value in values] if kind == "jsonb" else list(values)
        for (_, kind), values in zip(table.columns, zip(*rows, strict=True), strict=True)
    ]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
