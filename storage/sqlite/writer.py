"""SQLite's single writer, with group commit.

SQLite takes one writer at a time and, with ``synchronous=FULL``, pays an fsync per commit.
All writes therefore run on one thread with one connection, and the transactions that queued
up while a commit was under way share the next one: one ``BEGIN IMMEDIATE ... COMMIT`` (one
fsync) for the group, each unit of work inside its own savepoint so that one that fails is
undone alone. No caller hears back before the commit that holds its work, so durability is
unchanged; under load there are simply fewer commits.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["GroupWriter"]

T = TypeVar("T")

#: Most units of work in one commit.
MAX_GROUP = 128


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    transaction: bool


class GroupWriter:
    """The writer thread. ``start`` opens its connection with ``connect`` (on the thread)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, name: str) -> None:
        self._connect = connect
        self._conn: sqlite3.Connection | None = None
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.commits = 0

    async def start(self) -> None:
        self._thread.start()
        await self.call(lambda _: None)

    def close(self) -> None:
        """Finish what is queued, then stop the thread and close the connection."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in a write transaction; returns once it is committed."""
        return await self._submit(fn, transaction=True)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer's connection outside any transaction (migrations)."""
        return await self._submit(fn, transaction=False)

    async def _submit(self, fn: Callable[[sqlite3.Connection], T], *, transaction: bool) -> T:
        if not self._thread.is_alive():
            raise RuntimeError("the SQLite writer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, future, loop, transaction))
        return await future

    # -- the thread -----------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._conn = self._connect()
        except Exception as exc:
            # Nothing can be written: answer every job with why, until closed.
            while (job := self._jobs.get()) is not None:
                self._settle([(job, False, exc)])
            return
        try:
            self._serve(self._conn)
        finally:
            self._conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while (job := self._jobs.get()) is not None:
            group: list[_Job[Any]] = []
            while job is not None:
                if not job.transaction:
                    self._commit(conn, group)
                    group = []
                    self._settle([(job, *_attempt(job.fn, conn))])
                else:
                    group.append(job)
                if len(group) >= MAX_GROUP:
                    break
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
            self._commit(conn, group)
            if job is None:  # closed while grouping
                return

    def _commit(self, conn: sqlite3.Connection, group: list[_Job[Any]]) -> None:
        if not group:
            return
        outcomes = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                conn.execute("SAVEPOINT unit")
                ok, value = _attempt(job.fn, conn)
                if not ok:
                    conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append((job, ok, value))
            conn.execute("COMMIT")
        except Exception as exc:
            # The group's transaction failed as a whole (busy, disk full...): none of it
            # was committed, and every caller hears so.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(job, False, exc) for job in group]
        else:
            self.commits += 1
        self._settle(outcomes)

    def _settle(self, outcomes: list[tuple[_Job[Any], bool, Any]]) -> None:
        for job, ok, value in outcomes:
            job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)


def _attempt(fn: Callable[[sqlite3.Connection], Any], conn: sqlite3.Connection) -> tuple[bool, Any]:
    try:
        return True, fn(conn)
    except Exception as exc:
        return False, exc


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled; the work stands (or not) regardless
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
