"""SQLite backend: the embedded default, one file, nothing to install.

Threading model: SQLite allows one writer at a time, so all writes run on one dedicated
thread with one connection, each as a whole unit of work (one thread hop per transaction,
not per statement); units that queue up share a commit (``storage/sqlite_writer.py``).
Reads run on a small pool of reader threads with their own connections; WAL mode lets them
proceed while a write commits.

Durability follows ``synchronous`` (default ``FULL``: a returned write survives power loss).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import orjson

from protocol.errors import GatewayError
from protocol.events import ConversationUpdated, MessageCreated
from storage import migrations, outbox, records, sqlite_outbox
from storage.base import Decide, StoredEvent
from storage.errors import MigrationError, StorageError
from storage.execution import check_quota, counted_messages, execute, month_of, month_start
from storage.models import (
    Agent,
    ApiKey,
    Applied,
    Contact,
    Conversation,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    IdempotencyRecord,
    Message,
    NodeLease,
    Org,
    OutboxItem,
    StoredFile,
    WebhookEndpoint,
    Widget,
    now,
    to_wire,
)
from storage.sqlite_values import json_text as _json, ts as _ts, ts_or_none as _ts_or_none
from storage.sqlite_writer import GroupWriter

__all__ = ["SQLiteStore"]

T = TypeVar("T")
Row = sqlite3.Row

_SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


class SQLiteStore:
    """The ``Store`` on a SQLite file (WAL mode).

    Args:
        path: the database file; its directory is created if missing.
        synchronous: SQLite's ``synchronous`` pragma (``FULL`` by default).
        readers: how many reader threads (and connections).
    """

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", readers: int = 2) -> None:
        if str(path) == ":memory:":
            raise ValueError("SQLiteStore needs a file: readers and the writer share it")
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {sorted(_SYNCHRONOUS)}")
        self.path = Path(path)
        self._synchronous = synchronous.upper()
        self._reader_count = readers
        self._writer: GroupWriter | None = None
        self._readers: ThreadPoolExecutor | None = None
        self._read_conns: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._conns_lock = threading.Lock()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    async def start(self) -> None:
        if self._writer is not None:
            raise RuntimeError("SQLiteStore.start() called twice")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = GroupWriter(self._connect, name="sqlite-writer")
        self._readers = ThreadPoolExecutor(self._reader_count, thread_name_prefix="sqlite-reader")
        await self._writer.start()
        try:
            await self._writer.call(self._migrate)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def aclose(self) -> None:
        writer, readers = self._writer, self._readers
        if writer is None or readers is None:
            return
        self._writer = self._readers = None
        writer.close()
        readers.shutdown(wait=True)
        for conn in self._read_conns:
            conn.close()
        self._read_conns.clear()

    async def _run(self, executor: ThreadPoolExecutor | None, fn: Callable[[], T]) -> T:
        if executor is None:
            raise RuntimeError("the store is not started (or already closed)")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a write transaction (group-committed with others queued)."""
        if self._writer is None:
            raise RuntimeError("the store is not started (or already closed)")
        try:
            return await self._writer.transaction(fn)
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: {exc}") from exc

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def snapshot() -> T:
            conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = self._connect()
                with self._conns_lock:
                    self._read_conns.append(conn)
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")

        return await self._run(self._readers, snapshot)

    async def _one(
        self, decode: Callable[[Row], T], sql: str, params: tuple[Any, ...] = ()
    ) -> T | None:
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return None if row is None else decode(row)

    async def _all(
        self, decode: Callable[[Row], T], sql: str, params: tuple[Any, ...] = ()
    ) -> list[T]:
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [decode(r) for r in rows]

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        for migration in migrations.load("sqlite"):
            conn.execute("BEGIN IMMEDIATE")
            try:
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                ).fetchone()
                if done is None:
                    for statement in migrations.split_statements(migration.sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        (migration.version, migration.name, _ts(now())),
                    )
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise MigrationError(f"migration {migration.version}: {exc}") from exc
            conn.execute("COMMIT")

    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    # -- settings -------------------------------------------------------------------------

    async def get_or_create_setting(self, name: str, value: str) -> str:
        def txn(c: sqlite3.Connection) -> str:
            c.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (name, value))
            row = c.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
            return str(row["value"])

        return await self._write(txn)

    # -- gateway nodes --------------------------------------------------------------------

    async def register_node(self, node: NodeLease, live_after: datetime) -> list[NodeLease]:
        def txn(c: sqlite3.Connection) -> list[NodeLease]:
            others = c.execute(
                "SELECT * FROM nodes WHERE id != ? AND seen_at > ?", (node.id, _ts(live_after))
            ).fetchall()
            c.execute(
                "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?)",
                (
                    node.id,
                    node.host,
                    node.pid,
                    node.broker,
                    _ts(node.started_at),
                    _ts(node.seen_at),
                ),
            )
            return [records.node(r) for r in others]

        return await self._write(txn)

    async def heartbeat_node(self, node_id: str, at: datetime) -> None:
        await self._write(
            lambda c: c.execute("UPDATE nodes SET seen_at = ? WHERE id = ?", (_ts(at), node_id))
        )

    async def remove_node(self, node_id: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM nodes WHERE id = ?", (node_id,)))

    # -- tenancy --------------------------------------------------------------------------

    async def count_orgs(self) -> int:
        row = await self._read(lambda c: c.execute("SELECT count(*) AS n FROM orgs").fetchone())
        return int(row["n"])

    async def get_org(self, org_id: str) -> Org | None:
        return await self._one(records.org, "SELECT * FROM orgs WHERE id = ?", (org_id,))

    async def list_orgs(self) -> list[Org]:
        return await self._all(records.org, "SELECT * FROM orgs ORDER BY created_at, id")

    async def create_org(self, org: Org) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO orgs VALUES (?, ?, ?, ?)",
                (org.id, org.name, org.monthly_message_limit, _ts(org.created_at)),
            )
        )

    async def create_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key.id,
                    key.org_id,
                    key.name,
                    key.prefix,
                    key_hash,
                    _ts(key.created_at),
                    _ts_or_none(key.revoked_at),
                ),
            )
        )

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        return await self._one(
            records.api_key,
            "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return await self._all(
            records.api_key,
            "SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def revoke_api_key(self, org_id: str, key_id: str, at: datetime) -> ApiKey | None:
        def txn(c: sqlite3.Connection) -> Row | None:
            c.execute(
                "UPDATE api_keys SET revoked_at = ?"
                " WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                (_ts(at), key_id, org_id),
            )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM api_keys WHERE id = ? AND org_id = ?", (key_id, org_id)
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.api_key(row)

    async def create_widget(self, widget: Widget) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO widgets (id, org_id, name, allowed_origins, messages_per_minute,"
                " live_agent_endpoint_url, bot_settings, created_at, live_agent_escalate_after,"
                " live_agent_timeout, live_agent_fallback, live_agent_secret)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    widget.id,
                    widget.org_id,
                    widget.name,
                    _json(list(widget.allowed_origins)),
                    widget.messages_per_minute,
                    widget.live_agent_endpoint_url,
                    _json(widget.bot_settings),
                    _ts(widget.created_at),
                    widget.live_agent_escalate_after,
                    widget.live_agent_timeout,
                    widget.live_agent_fallback,
                    widget.live_agent_secret,
                ),
            )
        )

    async def get_widget(self, org_id: str | None, widget_id: str) -> Widget | None:
        if org_id is None:
            return await self._one(
                records.widget, "SELECT * FROM widgets WHERE id = ?", (widget_id,)
            )
        return await self._one(
            records.widget, "SELECT * FROM widgets WHERE id = ? AND org_id = ?", (widget_id, org_id)
        )

    async def update_widget(
        self, org_id: str, widget_id: str, updates: Mapping[str, Any]
    ) -> Widget | None:
        columns = {
            "name": lambda v: v,
            "allowed_origins": lambda v: _json(list(v)),
            "messages_per_minute": lambda v: v,
            "live_agent_endpoint_url": lambda v: v,
            "bot_settings": _json,
        }
        columns.update(dict.fromkeys(LIVE_AGENT_COLUMNS, _same))
        unknown = set(updates) - set(columns)
        if unknown:
            raise RuntimeError(f"update_widget cannot change {sorted(unknown)}")

        def txn(c: sqlite3.Connection) -> Row | None:
            if updates:
                assignments = ", ".join(f"{name} = ?" for name in updates)
                values = [columns[name](value) for name, value in updates.items()]
                c.execute(
                    f"UPDATE widgets SET {assignments} WHERE id = ? AND org_id = ?",
                    (*values, widget_id, org_id),
                )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM widgets WHERE id = ? AND org_id = ?", (widget_id, org_id)
            ).fetchone()

        row = await self._write(txn)
        return None if row is None else records.widget(row)

    async def list_widgets(self, org_id: str) -> list[Widget]:
        return await self._all(
            records.widget,
            "SELECT * FROM widgets WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def create_agent(self, agent: Agent) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO agents VALUES (?, ?, ?, ?, ?)",
                (agent.id, agent.org_id, agent.name, agent.email, _ts(agent.created_at)),
            )
        )

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        return await self._one(
            records.agent, "SELECT * FROM agents WHERE id = ? AND org_id = ?", (agent_id, org_id)
        )

    async def list_agents(self, org_id: str) -> list[Agent]:
        return await self._all(
            records.agent,
            "SELECT * FROM agents WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def get_or_create_contact(self, contact: Contact) -> Contact:
        def txn(c: sqlite3.Connection) -> Row:
            if contact.external_id is not None:
                row = c.execute(
                    "SELECT * FROM contacts WHERE org_id = ? AND external_id = ?",
                    (contact.org_id, contact.external_id),
                ).fetchone()
                if row is not None:
                    return row  # type: ignore[no-any-return]
            c.execute(
                "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    contact.id,
                    contact.org_id,
                    contact.widget_id,
                    contact.external_id,
                    contact.name,
                    contact.email,
                    _json(contact.metadata),
                    _ts(contact.created_at),
                ),
            )
            return c.execute(  # type: ignore[no-any-return]
                "SELECT * FROM contacts WHERE id = ?", (contact.id,)
            ).fetchone()

        return records.contact(await self._write(txn))

    async def get_contact(self, org_id: str, contact_id: str) -> Contact | None:
        return await self._one(
            records.contact,
            "SELECT * FROM contacts WHERE id = ? AND org_id = ?",
            (contact_id, org_id),
        )

    # -- conversations --------------------------------------------------------------------

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
            params.extend([_ts(before[0]), before[1]])
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
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.id,
                        m.conversation_id,
                        m.seq,
                        m.role.value,
                        m.sender_id,
                        m.content,
                        _json(list(m.attachments)),
                        _json(m.metadata),
                        m.client_message_id,
                        _ts(m.created_at),
                    )
                    for m in done.messages
                ],
            )
            c.executemany(
                "INSERT INTO conversation_changes VALUES (?, ?, ?, ?)",
                [(conversation_id, seq, _json(data), _ts(at)) for seq, data in done.changes],
            )
            if done.events:
                _update_conversation(c, done.conversation)
                targets = sqlite_outbox.targets(c, done.conversation)
                derived = outbox.derive(done.conversation, done.events, targets, at)
                sqlite_outbox.insert(c, [*derived, *done.outbox], at)
            elif done.outbox:
                sqlite_outbox.insert(c, done.outbox, at)
            return Applied(done.conversation, done.events, done.messages)

        return await self._write(txn)

    async def read_events(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[StoredEvent]:
        def query(c: sqlite3.Connection) -> list[StoredEvent]:
            messages = c.execute(
                "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (conversation_id, after_seq, limit),
            ).fetchall()
            changes = c.execute(
                "SELECT seq, data FROM conversation_changes WHERE conversation_id = ? AND seq > ?"
                " ORDER BY seq LIMIT ?",
                (conversation_id, after_seq, limit),
            ).fetchall()
            events: list[StoredEvent] = [
                MessageCreated(conversation_id, r["seq"], to_wire(records.message(r)))
                for r in messages
            ]
            for r in changes:
                data = orjson.loads(r["data"])
                events.append(
                    ConversationUpdated(
                        conversation_id, r["seq"], data["conversation"], data["changes"]
                    )
                )
            events.sort(key=lambda e: e.seq)
            return events[:limit]

        return await self._read(query)

    async def list_messages(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[Message]:
        return await self._all(
            records.message,
            "SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?",
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
                (conversation_id, reader, seq, _ts(at)),
            )
            row = c.execute(
                "SELECT seq FROM read_cursors WHERE conversation_id = ? AND reader = ?",
                (conversation_id, reader),
            ).fetchone()
            return int(row["seq"])

        return await self._write(txn)

    # -- files ----------------------------------------------------------------------------

    async def put_file(self, file: StoredFile, data: bytes) -> StoredFile:
        def txn(c: sqlite3.Connection) -> Row:
            c.execute(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (file.org_id, file.sha256, file.mime, file.size, data, _ts(file.created_at)),
            )
            row: Row = c.execute(FILE_QUERY, (file.org_id, file.sha256)).fetchone()
            return row

        return records.stored_file(await self._write(txn))

    async def get_file(self, org_id: str, sha256: str) -> StoredFile | None:
        return await self._one(records.stored_file, FILE_QUERY, (org_id, sha256))

    async def read_file(self, org_id: str, sha256: str) -> tuple[StoredFile, bytes] | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT * FROM files WHERE org_id = ? AND sha256 = ?", (org_id, sha256)
            ).fetchone()
        )
        return None if row is None else (records.stored_file(row), bytes(row["data"]))

    async def monthly_messages(self, org_id: str, month: str) -> int | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT messages FROM message_usage WHERE org_id = ? AND month = ?",
                (org_id, month),
            ).fetchone()
        )
        return None if row is None else int(row["messages"])

    # -- webhooks and the outbox ----------------------------------------------------------

    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self._write(lambda c: sqlite_outbox.create_endpoint(c, endpoint))

    async def get_webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._one(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE id = ? AND org_id = ?",
            (endpoint_id, org_id),
        )

    async def list_webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        return await self._all(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE org_id = ? ORDER BY created_at, id",
            (org_id,),
        )

    async def update_webhook_endpoint(
        self, org_id: str, endpoint_id: str, updates: Mapping[str, Any], at: datetime
    ) -> WebhookEndpoint | None:
        return await self._write(
            lambda c: sqlite_outbox.update_endpoint(c, org_id, endpoint_id, updates, at)
        )

    async def delete_webhook_endpoint(self, org_id: str, endpoint_id: str, at: datetime) -> bool:
        return await self._write(
            lambda c: sqlite_outbox.delete_endpoint(c, org_id, endpoint_id, at)
        )

    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        await self._write(lambda c: sqlite_outbox.insert(c, items, at))

    async def claim_deliveries(
        self, owner: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        # Look before taking the write lock: most looks find nothing due.
        if not await self._read(lambda c: sqlite_outbox.anything_due(c, at)):
            return []
        return await self._write(lambda c: sqlite_outbox.claim(c, owner, at, lease, limit))

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        return await self._write(lambda c: sqlite_outbox.finish(c, delivery, outcome, at))

    async def list_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        return await self._read(
            lambda c: sqlite_outbox.list_deliveries(c, org_id, endpoint_id, status, after, limit)
        )

    async def get_delivery(self, org_id: str, delivery_id: str) -> Delivery | None:
        return await self._one(
            records.delivery,
            "SELECT * FROM outbox WHERE id = ? AND org_id = ?",
            (delivery_id, org_id),
        )

    async def list_delivery_attempts(self, org_id: str, delivery_id: str) -> list[DeliveryAttempt]:
        return await self._read(lambda c: sqlite_outbox.list_attempts(c, org_id, delivery_id))

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
        return await self._write(
            lambda c: sqlite_outbox.replay(
                c,
                org_id,
                endpoint_id,
                delivery_id=delivery_id,
                since=since,
                until=until,
                statuses=statuses,
                at=at,
            )
        )

    # -- idempotency ----------------------------------------------------------------------

    async def claim_idempotency_key(
        self, scope: str, key: str, request_hash: str, at: datetime, ttl: timedelta
    ) -> IdempotencyRecord | None:
        def txn(c: sqlite3.Connection) -> IdempotencyRecord | None:
            row = c.execute(
                "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is not None:
                record = records.idempotency(row)
                if record.created_at >= at - ttl:
                    return record
                c.execute("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key))
            c.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                (scope, key, request_hash, _ts(at)),
            )
            return None

        return await self._write(txn)

    async def finish_idempotency_key(
        self, scope: str, key: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE idempotency_keys SET status = ?, headers = ?, body = ?"
                " WHERE scope = ? AND key = ?",
                (status, _json(dict(headers)), body, scope, key),
            )
        )

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotencyRecord | None:
        return await self._one(
            records.idempotency,
            "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?",
            (scope, key),
        )

    async def release_idempotency_key(self, scope: str, key: str) -> None:
        await self._write(
            lambda c: c.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL",
                (scope, key),
            )
        )

    async def purge_idempotency_keys(self, before: datetime) -> int:
        cursor = await self._write(
            lambda c: c.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (_ts(before),))
        )
        return int(cursor.rowcount)


# -- rows ---------------------------------------------------------------------------------


FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = ? AND sha256 = ?"
)


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
            (org_id, _ts(month_start(at))),
        ).fetchone()["n"]
    check_quota(limit, used, adding)
    c.execute(
        "INSERT INTO message_usage VALUES (?, ?, ?)"
        " ON CONFLICT (org_id, month) DO UPDATE SET messages = excluded.messages",
        (org_id, month, used + adding),
    )


LIVE_AGENT_COLUMNS = (
    "live_agent_escalate_after",
    "live_agent_timeout",
    "live_agent_fallback",
    "live_agent_secret",
)


def _same(value: Any) -> Any:
    return value


def _conversation_values(v: Conversation) -> tuple[Any, ...]:
    return (
        v.org_id,
        v.widget_id,
        v.contact_id,
        v.status.value,
        v.handler.value,
        v.epoch,
        v.assignee_id,
        _ts(v.created_at),
        _ts(v.updated_at),
        _ts_or_none(v.resolved_at),
        _ts_or_none(v.ended_at),
        _ts_or_none(v.live_agent_handoff_at),
        _ts_or_none(v.first_response_at),
        v.last_seq,
        _json(v.metadata),
        v.channel,
    )


def _insert_conversation(c: sqlite3.Connection, v: Conversation) -> None:
    c.execute(
        "INSERT INTO conversations (id, org_id, widget_id, contact_id, status, handler, epoch,"
        " assignee_id, created_at, updated_at, resolved_at, ended_at, live_agent_handoff_at,"
        " first_response_at, last_seq, metadata, channel)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (v.id, *_conversation_values(v)),
    )


def _update_conversation(c: sqlite3.Connection, v: Conversation) -> None:
    c.execute(
        "UPDATE conversations SET org_id = ?, widget_id = ?, contact_id = ?, status = ?,"
        " handler = ?, epoch = ?, assignee_id = ?, created_at = ?, updated_at = ?,"
        " resolved_at = ?, ended_at = ?, live_agent_handoff_at = ?, first_response_at = ?,"
        " last_seq = ?, metadata = ?, channel = ? WHERE id = ?",
        (*_conversation_values(v), v.id),
    )
