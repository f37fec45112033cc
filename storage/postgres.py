"""PostgreSQL backend (asyncpg): the system of record when chatgate runs on several nodes.

Writers of one conversation serialize on its row (``SELECT ... FOR UPDATE`` in the write's
transaction), so seqs stay gap-free and unique whichever process writes. Races on unique keys
(contacts by external id, settings, idempotency keys) are settled by ``ON CONFLICT``.
Migrations run under an advisory lock, so several nodes may start at once.

``database_url`` is a libpq URL; query parameters that are not connection options become
server settings, e.g. ``postgresql://chatgate@db/chatgate?search_path=tenant_a``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, Self, TypeVar

import asyncpg
import orjson

from protocol.errors import GatewayError
from protocol.events import ConversationUpdated, MessageCreated
from storage import migrations, outbox, postgres_outbox, records
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

__all__ = ["PostgresStore"]

T = TypeVar("T")

#: Key of the advisory lock that serializes migrations across nodes.
MIGRATION_LOCK = 0x63686174  # "chat"
#: Key of the advisory lock that makes node registration atomic.
NODES_LOCK = 0x6E6F6465  # "node"
_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

CONVERSATION_COLUMNS = (
    "id, org_id, widget_id, contact_id, status, handler, epoch, assignee_id, created_at,"
    " updated_at, resolved_at, ended_at, live_agent_handoff_at, first_response_at, last_seq,"
    " metadata, channel"
)
#: Placeholders for ``CONVERSATION_COLUMNS``, in order.
CONVERSATION_VALUES = ", ".join(f"${n + 1}" for n in range(CONVERSATION_COLUMNS.count(",") + 1))
WIDGET_COLUMNS = frozenset(
    {
        "name",
        "allowed_origins",
        "messages_per_minute",
        "live_agent_endpoint_url",
        "bot_settings",
        "live_agent_escalate_after",
        "live_agent_timeout",
        "live_agent_fallback",
        "live_agent_secret",
    }
)


class PostgresStore:
    """The ``Store`` on PostgreSQL.

    Args:
        dsn: a ``postgresql://`` URL.
        min_size, max_size: bounds of the connection pool.
    """

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._pool is not None:
            raise RuntimeError("PostgresStore.start() called twice")
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                init=_init_connection,
                reset=_keep_session,
            )
        except _FAILURES as exc:
            raise StorageError(f"postgres: {exc}") from exc
        await self._migrate()

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise RuntimeError("the store is not started (or already closed)")
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _FAILURES as exc:
            raise StorageError(f"postgres: {exc}") from exc

    @asynccontextmanager
    async def _transaction(self, **options: Any) -> AsyncIterator[asyncpg.Connection]:
        async with self._connection() as conn, conn.transaction(**options):
            yield conn

    async def _execute(self, sql: str, *args: Any) -> str:
        async with self._connection() as conn:
            return str(await conn.execute(sql, *args))

    async def _one(self, decode: Callable[[Any], T], sql: str, *args: Any) -> T | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(sql, *args)
        return None if row is None else decode(row)

    async def _all(self, decode: Callable[[Any], T], sql: str, *args: Any) -> list[T]:
        async with self._connection() as conn:
            rows = await conn.fetch(sql, *args)
        return [decode(r) for r in rows]

    async def _migrate(self) -> None:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL)"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for migration in migrations.load("postgres"):
                if migration.version in done:
                    continue
                try:
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                            migration.version,
                            migration.name,
                            now(),
                        )
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"migration {migration.version}: {exc}") from exc

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.fetchval("SELECT 1")

    # -- settings -------------------------------------------------------------------------

    async def get_or_create_setting(self, name: str, value: str) -> str:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, value
            )
            stored = await conn.fetchval("SELECT value FROM settings WHERE name = $1", name)
        return str(stored)

    # -- gateway nodes --------------------------------------------------------------------

    async def register_node(self, node: NodeLease, live_after: datetime) -> list[NodeLease]:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", NODES_LOCK)
            others = await conn.fetch(
                "SELECT * FROM nodes WHERE id != $1 AND seen_at > $2", node.id, live_after
            )
            await conn.execute(
                "INSERT INTO nodes VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
                node.id,
                node.host,
                node.pid,
                node.broker,
                node.started_at,
                node.seen_at,
            )
        return [records.node(r) for r in others]

    async def heartbeat_node(self, node_id: str, at: datetime) -> None:
        await self._execute("UPDATE nodes SET seen_at = $2 WHERE id = $1", node_id, at)

    async def remove_node(self, node_id: str) -> None:
        await self._execute("DELETE FROM nodes WHERE id = $1", node_id)

    # -- tenancy --------------------------------------------------------------------------

    async def count_orgs(self) -> int:
        async with self._connection() as conn:
            return int(await conn.fetchval("SELECT count(*) FROM orgs"))

    async def get_org(self, org_id: str) -> Org | None:
        return await self._one(records.org, "SELECT * FROM orgs WHERE id = $1", org_id)

    async def list_orgs(self) -> list[Org]:
        return await self._all(records.org, "SELECT * FROM orgs ORDER BY created_at, id")

    async def create_org(self, org: Org) -> None:
        await self._execute(
            "INSERT INTO orgs VALUES ($1, $2, $3, $4)",
            org.id,
            org.name,
            org.monthly_message_limit,
            org.created_at,
        )

    async def create_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._execute(
            "INSERT INTO api_keys VALUES ($1, $2, $3, $4, $5, $6, $7)",
            key.id,
            key.org_id,
            key.name,
            key.prefix,
            key_hash,
            key.created_at,
            key.revoked_at,
        )

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        return await self._one(
            records.api_key,
            "SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            key_hash,
        )

    async def list_api_keys(self, org_id: str) -> list[ApiKey]:
        return await self._all(
            records.api_key,
            "SELECT * FROM api_keys WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def revoke_api_key(self, org_id: str, key_id: str, at: datetime) -> ApiKey | None:
        async with self._connection() as conn:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = $1"
                " WHERE id = $2 AND org_id = $3 AND revoked_at IS NULL",
                at,
                key_id,
                org_id,
            )
            row = await conn.fetchrow(
                "SELECT * FROM api_keys WHERE id = $1 AND org_id = $2", key_id, org_id
            )
        return None if row is None else records.api_key(row)

    async def create_widget(self, widget: Widget) -> None:
        await self._execute(
            "INSERT INTO widgets (id, org_id, name, allowed_origins, messages_per_minute,"
            " live_agent_endpoint_url, bot_settings, created_at, live_agent_escalate_after,"
            " live_agent_timeout, live_agent_fallback, live_agent_secret)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            widget.id,
            widget.org_id,
            widget.name,
            list(widget.allowed_origins),
            widget.messages_per_minute,
            widget.live_agent_endpoint_url,
            widget.bot_settings,
            widget.created_at,
            widget.live_agent_escalate_after,
            widget.live_agent_timeout,
            widget.live_agent_fallback,
            widget.live_agent_secret,
        )

    async def get_widget(self, org_id: str | None, widget_id: str) -> Widget | None:
        if org_id is None:
            return await self._one(records.widget, "SELECT * FROM widgets WHERE id = $1", widget_id)
        return await self._one(
            records.widget, "SELECT * FROM widgets WHERE id = $1 AND org_id = $2", widget_id, org_id
        )

    async def update_widget(
        self, org_id: str, widget_id: str, updates: Mapping[str, Any]
    ) -> Widget | None:
        unknown = set(updates) - WIDGET_COLUMNS
        if unknown:
            raise RuntimeError(f"update_widget cannot change {sorted(unknown)}")
        values = [list(v) if k == "allowed_origins" else v for k, v in updates.items()]
        async with self._connection() as conn:
            if updates:
                assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(updates, 3))
                await conn.execute(
                    f"UPDATE widgets SET {assignments} WHERE id = $1 AND org_id = $2",
                    widget_id,
                    org_id,
                    *values,
                )
            row = await conn.fetchrow(
                "SELECT * FROM widgets WHERE id = $1 AND org_id = $2", widget_id, org_id
            )
        return None if row is None else records.widget(row)

    async def list_widgets(self, org_id: str) -> list[Widget]:
        return await self._all(
            records.widget,
            "SELECT * FROM widgets WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def create_agent(self, agent: Agent) -> None:
        await self._execute(
            "INSERT INTO agents VALUES ($1, $2, $3, $4, $5)",
            agent.id,
            agent.org_id,
            agent.name,
            agent.email,
            agent.created_at,
        )

    async def get_agent(self, org_id: str, agent_id: str) -> Agent | None:
        return await self._one(
            records.agent, "SELECT * FROM agents WHERE id = $1 AND org_id = $2", agent_id, org_id
        )

    async def list_agents(self, org_id: str) -> list[Agent]:
        return await self._all(
            records.agent, "SELECT * FROM agents WHERE org_id = $1 ORDER BY created_at, id", org_id
        )

    async def get_or_create_contact(self, contact: Contact) -> Contact:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO contacts VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (org_id, external_id) WHERE external_id IS NOT NULL DO NOTHING",
                contact.id,
                contact.org_id,
                contact.widget_id,
                contact.external_id,
                contact.name,
                contact.email,
                contact.metadata,
                contact.created_at,
            )
            if contact.external_id is None:
                row = await conn.fetchrow("SELECT * FROM contacts WHERE id = $1", contact.id)
            else:
                row = await conn.fetchrow(
                    "SELECT * FROM contacts WHERE org_id = $1 AND external_id = $2",
                    contact.org_id,
                    contact.external_id,
                )
        return records.contact(row)

    async def get_contact(self, org_id: str, contact_id: str) -> Contact | None:
        return await self._one(
            records.contact,
            "SELECT * FROM contacts WHERE id = $1 AND org_id = $2",
            contact_id,
            org_id,
        )

    # -- conversations --------------------------------------------------------------------

    async def create_conversation(self, conversation: Conversation) -> None:
        at = conversation.created_at
        async with self._transaction() as conn:
            await conn.execute(
                f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
                f" VALUES ({CONVERSATION_VALUES})",
                *_conversation_values(conversation),
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
                    *_conversation_values(done.conversation),
                    *_message_values(done.messages[0]),
                )
            else:
                if done.messages:
                    await conn.executemany(
                        INSERT_MESSAGE, [_message_values(m) for m in done.messages]
                    )
                if done.changes:
                    await conn.executemany(
                        "INSERT INTO conversation_changes VALUES ($1, $2, $3, $4)",
                        [(conversation_id, seq, data, at) for seq, data in done.changes],
                    )
                if done.events:
                    values = _conversation_values(done.conversation)
                    await conn.execute(UPDATE_CONVERSATION, *values)
            if done.events:
                targets = outbox.Targets()
                if row["has_endpoints"] or row["has_live_agent"]:
                    targets = await postgres_outbox.targets(conn, done.conversation)
                derived = outbox.derive(done.conversation, done.events, targets, at)
                await postgres_outbox.insert(conn, [*derived, *done.outbox], at)
            elif done.outbox:
                await postgres_outbox.insert(conn, done.outbox, at)
        return Applied(done.conversation, done.events, done.messages)

    async def read_events(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[StoredEvent]:
        # One snapshot for both queries, so that the merge sees one consistent log.
        async with self._transaction(isolation="repeatable_read", readonly=True) as conn:
            messages = await conn.fetch(
                "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2"
                " ORDER BY seq LIMIT $3",
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
        events: list[StoredEvent] = [
            MessageCreated(conversation_id, r["seq"], to_wire(records.message(r))) for r in messages
        ]
        events.extend(
            ConversationUpdated(
                conversation_id, r["seq"], r["data"]["conversation"], r["data"]["changes"]
            )
            for r in changes
        )
        events.sort(key=lambda e: e.seq)
        return events[:limit]

    async def list_messages(
        self, conversation_id: str, after_seq: int, limit: int
    ) -> list[Message]:
        return await self._all(
            records.message,
            "SELECT * FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
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

    # -- files ----------------------------------------------------------------------------

    async def put_file(self, file: StoredFile, data: bytes) -> StoredFile:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO files VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                file.org_id,
                file.sha256,
                file.mime,
                file.size,
                data,
                file.created_at,
            )
            row = await conn.fetchrow(FILE_QUERY, file.org_id, file.sha256)
        return records.stored_file(row)

    async def get_file(self, org_id: str, sha256: str) -> StoredFile | None:
        return await self._one(records.stored_file, FILE_QUERY, org_id, sha256)

    async def read_file(self, org_id: str, sha256: str) -> tuple[StoredFile, bytes] | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM files WHERE org_id = $1 AND sha256 = $2", org_id, sha256
            )
        return None if row is None else (records.stored_file(row), bytes(row["data"]))

    async def monthly_messages(self, org_id: str, month: str) -> int | None:
        async with self._connection() as conn:
            value = await conn.fetchval(
                "SELECT messages FROM message_usage WHERE org_id = $1 AND month = $2",
                org_id,
                month,
            )
        return None if value is None else int(value)

    # -- webhooks and the outbox ----------------------------------------------------------

    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        async with self._connection() as conn:
            await postgres_outbox.create_endpoint(conn, endpoint)

    async def get_webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        return await self._one(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE id = $1 AND org_id = $2",
            endpoint_id,
            org_id,
        )

    async def list_webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        return await self._all(
            records.webhook_endpoint,
            "SELECT * FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id",
            org_id,
        )

    async def update_webhook_endpoint(
        self, org_id: str, endpoint_id: str, updates: Mapping[str, Any], at: datetime
    ) -> WebhookEndpoint | None:
        async with self._connection() as conn:
            return await postgres_outbox.update_endpoint(conn, org_id, endpoint_id, updates, at)

    async def delete_webhook_endpoint(self, org_id: str, endpoint_id: str, at: datetime) -> bool:
        async with self._transaction() as conn:
            return await postgres_outbox.delete_endpoint(conn, org_id, endpoint_id, at)

    async def enqueue(self, items: Sequence[OutboxItem]) -> None:
        at = now()
        async with self._transaction() as conn:
            await postgres_outbox.insert(conn, items, at)

    async def claim_deliveries(
        self, owner: str, at: datetime, lease: timedelta, limit: int
    ) -> list[Delivery]:
        async with self._transaction() as conn:
            return await postgres_outbox.claim(conn, owner, at, lease, limit)

    async def finish_delivery(
        self, delivery: Delivery, outcome: DeliveryOutcome, at: datetime
    ) -> bool:
        async with self._transaction() as conn:
            return await postgres_outbox.finish(conn, delivery, outcome, at)

    async def list_deliveries(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        async with self._connection() as conn:
            return await postgres_outbox.list_deliveries(
                conn, org_id, endpoint_id, status, after, limit
            )

    async def get_delivery(self, org_id: str, delivery_id: str) -> Delivery | None:
        return await self._one(
            records.delivery,
            "SELECT * FROM outbox WHERE id = $1 AND org_id = $2",
            delivery_id,
            org_id,
        )

    async def list_delivery_attempts(self, org_id: str, delivery_id: str) -> list[DeliveryAttempt]:
        async with self._connection() as conn:
            return await postgres_outbox.list_attempts(conn, org_id, delivery_id)

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
        async with self._connection() as conn:
            return await postgres_outbox.replay(
                conn,
                org_id,
                endpoint_id,
                delivery_id=delivery_id,
                since=since,
                until=until,
                statuses=statuses,
                at=at,
            )

    # -- idempotency ----------------------------------------------------------------------

    async def claim_idempotency_key(
        self, scope: str, key: str, request_hash: str, at: datetime, ttl: timedelta
    ) -> IdempotencyRecord | None:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3",
                scope,
                key,
                at - ttl,
            )
            claimed = await conn.fetchval(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
                scope,
                key,
                request_hash,
                at,
            )
            if claimed:
                return None
            row = await conn.fetchrow(
                "SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
            )
        return records.idempotency(row)

    async def finish_idempotency_key(
        self, scope: str, key: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        await self._execute(
            "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5"
            " WHERE scope = $1 AND key = $2",
            scope,
            key,
            status,
            dict(headers),
            body,
        )

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotencyRecord | None:
        return await self._one(
            records.idempotency,
            "SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2",
            scope,
            key,
        )

    async def release_idempotency_key(self, scope: str, key: str) -> None:
        await self._execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL",
            scope,
            key,
        )

    async def purge_idempotency_keys(self, before: datetime) -> int:
        result = await self._execute("DELETE FROM idempotency_keys WHERE created_at < $1", before)
        return int(result.split()[-1])  # "DELETE <count>"


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. Our sessions hold no state to undo (advisory locks are
    per transaction, nothing LISTENs or SETs), and asyncpg itself rolls back a transaction
    left open, so the default reset (a round trip of ``RESET ALL``, ``UNLISTEN *``...) on
    every release buys nothing."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Ids travel as text and JSON as Python objects, as in every other layer.
    await conn.set_type_codec("uuid", encoder=str, decoder=str, schema="pg_catalog", format="text")
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
        format="text",
    )


FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = $1 AND sha256 = $2"
)


#: ``apply``'s first read: the conversation, locked, and what the change may need next.
APPLY_QUERY = """
SELECT c.*, o.monthly_message_limit,
    EXISTS (SELECT 1 FROM webhook_endpoints e
            WHERE e.org_id = c.org_id AND e.status != 'disabled') AS has_endpoints,
    EXISTS (SELECT 1 FROM widgets w
            WHERE w.id = c.widget_id AND w.live_agent_endpoint_url IS NOT NULL) AS has_live_agent
FROM conversations c JOIN orgs o ON o.id = c.org_id
WHERE c.id = $1 AND c.org_id = $2
FOR UPDATE OF c
"""
INSERT_MESSAGE = "INSERT INTO messages VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
UPDATE_CONVERSATION = (
    f"UPDATE conversations SET ({CONVERSATION_COLUMNS}) = ({CONVERSATION_VALUES}) WHERE id = $1"
)
_AFTER_CONVERSATION = CONVERSATION_COLUMNS.count(",") + 1
#: A message and its conversation's new state in one round trip (message values follow the
#: conversation's, numbered on from them).
UPDATE_WITH_MESSAGE = (
    "WITH message AS (INSERT INTO messages VALUES ("
    + ", ".join(f"${_AFTER_CONVERSATION + n}" for n in range(1, 11))
    + f")) {UPDATE_CONVERSATION}"
)


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


def _conversation_values(v: Conversation) -> tuple[Any, ...]:
    return (
        v.id,
        v.org_id,
        v.widget_id,
        v.contact_id,
        v.status.value,
        v.handler.value,
        v.epoch,
        v.assignee_id,
        v.created_at,
        v.updated_at,
        v.resolved_at,
        v.ended_at,
        v.live_agent_handoff_at,
        v.first_response_at,
        v.last_seq,
        v.metadata,
        v.channel,
    )


def _message_values(m: Message) -> tuple[Any, ...]:
    return (
        m.id,
        m.conversation_id,
        m.seq,
        m.role.value,
        m.sender_id,
        m.content,
        list(m.attachments),
        m.metadata,
        m.client_message_id,
        m.created_at,
    )
