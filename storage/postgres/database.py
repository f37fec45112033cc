"""PostgreSQL's connections: an asyncpg pool, transactions, migrations.

Migrations run under an advisory lock, so several nodes may start at once.

``Database`` is the base of every resource class of ``PostgresStore``: they run their SQL on
``_connection()`` (autocommit statements) or in ``_transaction()``, or through the ``_execute``,
``_one`` and ``_all`` shortcuts. asyncpg and connection failures become ``StorageError`` there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar

import asyncpg

from storage import migrations
from storage.errors import MigrationError, StorageError
from storage.models import now
from storage.postgres.values import init_connection

__all__ = ["Database", "rowcount"]

T = TypeVar("T")

#: Key of the advisory lock that serializes migrations across nodes.
MIGRATION_LOCK = 0x63686174  # "chat"
_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def rowcount(status: str) -> int:
    """The row count of a command status such as ``UPDATE 3``."""
    return int(status.split()[-1])


class Database:
    """A PostgreSQL database: the pool, transactions, migrations."""

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

    async def start(self) -> None:
        if self._pool is not None:
            raise RuntimeError("PostgresStore.start() called twice")
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self._min_size,
                max_size=self._max_size,
                init=init_connection,
                reset=_keep_session,
            )
        except _FAILURES as exc:
            raise StorageError(f"postgres: {exc}") from exc
        await self._migrate()

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.fetchval("SELECT 1")

    # -- running SQL ----------------------------------------------------------------------

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


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. Our sessions hold no state to undo (advisory locks are
    per transaction, nothing LISTENs or SETs), and asyncpg itself rolls back a transaction
    left open, so the default reset (a round trip of ``RESET ALL``, ``UNLISTEN *``...) on
    every release buys nothing."""
