"""SQLite's connections: one writer thread and a few readers, over one database file.

Threading model: SQLite allows one writer at a time, so all writes run on one dedicated
thread with one connection, each as a whole unit of work (one thread hop per transaction,
not per statement); units that queue up share a commit (``writer.py``). Reads run on a
small pool of reader threads with their own connections; WAL mode lets them proceed while a
write commits.

Durability follows ``synchronous`` (default ``FULL``: a returned write survives power loss).

``Database`` is the base of every resource class of ``SQLiteStore``: they run their SQL through
``_write`` (a function of the writer's connection, in one transaction) and ``_read`` (one
snapshot on a reader's connection), or the ``_one``/``_all`` lookups.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self, TypeVar

from storage import migrations
from storage.errors import MigrationError, StorageError
from storage.models import now
from storage.sqlite.values import ts
from storage.sqlite.writer import GroupWriter

__all__ = ["Database"]

T = TypeVar("T")

_SYNCHRONOUS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})


class Database:
    """A SQLite file (WAL mode): the writer, the readers, migrations."""

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

    async def ping(self) -> None:
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    # -- running SQL ----------------------------------------------------------------------

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
        self, decode: Callable[[sqlite3.Row], T], sql: str, params: tuple[Any, ...] = ()
    ) -> T | None:
        row = await self._read(lambda c: c.execute(sql, params).fetchone())
        return None if row is None else decode(row)

    async def _all(
        self, decode: Callable[[sqlite3.Row], T], sql: str, params: tuple[Any, ...] = ()
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
                        (migration.version, migration.name, ts(now())),
                    )
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise MigrationError(f"migration {migration.version}: {exc}") from exc
            conn.execute("COMMIT")
