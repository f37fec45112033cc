"""Idempotency-Key semantics against a real store, with a first request we control."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from starlette.responses import Response

from gateway.core.idempotency import Idempotency
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.sqlite import SQLiteStore
from tests.support import timeout


class Handler:
    """A request body run: counts runs, can be held open or made to fail."""

    def __init__(self, status: int = 201, fail: bool = False) -> None:
        self.runs = 0
        self.status = status
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()

    async def __call__(self) -> Response:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise ConnectionResetError("client went away")
        return Response(f"run {self.runs}", self.status, media_type="application/json")


def keys(store: SQLiteStore, wait: float = 5) -> Idempotency:
    return Idempotency(store, timedelta(hours=24), wait=timeout(wait))


async def test_idempotency_replays_the_first_response(sqlite_store: SQLiteStore) -> None:
    """Same key and body: the first response again, marked as replayed; one run."""
    idem, handler = keys(sqlite_store), Handler()
    first = await idem.run("caller", "k1", b"{}", handler)
    again = await idem.run("caller", "k1", b"{}", handler)
    assert (first.status_code, first.body) == (again.status_code, again.body) == (201, b"run 1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"] == "application/json"
    assert handler.runs == 1
    other_caller = await idem.run("someone-else", "k1", b"{}", handler)
    assert other_caller.body == b"run 2", "keys are scoped to the caller"


async def test_idempotency_different_body_conflicts(sqlite_store: SQLiteStore) -> None:
    """Reusing a key with another body is idempotency_conflict, and runs nothing."""
    idem, handler = keys(sqlite_store), Handler()
    await idem.run("caller", "k1", b'{"a": 1}', handler)
    with pytest.raises(GatewayError) as info:
        await idem.run("caller", "k1", b'{"a": 2}', handler)
    assert info.value.code is ErrorCode.IDEMPOTENCY_CONFLICT and handler.runs == 1


async def test_idempotency_retry_waits_for_the_running_first(sqlite_store: SQLiteStore) -> None:
    """A retry that arrives while the first runs waits for it, then replays it."""
    idem, handler = keys(sqlite_store), Handler()
    handler.release.clear()
    first = asyncio.create_task(idem.run("caller", "k1", b"{}", handler))
    await handler.started.wait()
    retry = asyncio.create_task(idem.run("caller", "k1", b"{}", handler))
    await asyncio.sleep(0.05)
    assert not retry.done(), "the retry waits while the first request runs"
    handler.release.set()
    assert (await first).body == (await retry).body == b"run 1"
    assert handler.runs == 1


async def test_idempotency_failed_first_lets_the_retry_run(sqlite_store: SQLiteStore) -> None:
    """If the first request dies, a waiting retry runs it instead (no stuck key)."""
    idem, failing = keys(sqlite_store), Handler(fail=True)
    failing.release.clear()
    first = asyncio.create_task(idem.run("caller", "k1", b"{}", failing))
    await failing.started.wait()
    working = Handler()
    retry = asyncio.create_task(idem.run("caller", "k1", b"{}", working))
    await asyncio.sleep(0.05)
    failing.release.set()
    with pytest.raises(ConnectionResetError):
        await first
    assert (await retry).body == b"run 1" and working.runs == 1


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_idempotency_server_errors_and_rate_limits_are_not_kept(
    sqlite_store: SQLiteStore, status: int
) -> None:
    """A 5xx or 429 answer is not stored: the retry runs again."""
    idem, handler = keys(sqlite_store), Handler(status=status)
    await idem.run("caller", "k1", b"{}", handler)
    await idem.run("caller", "k1", b"{}", handler)
    assert handler.runs == 2


async def test_idempotency_gives_up_waiting_with_a_retryable_conflict(
    sqlite_store: SQLiteStore,
) -> None:
    """A first request that outlives the wait answers a temporary conflict, Retry-After 1."""
    idem, handler = keys(sqlite_store, wait=0.1), Handler()
    handler.release.clear()
    first = asyncio.create_task(idem.run("caller", "k1", b"{}", handler))
    await handler.started.wait()
    with pytest.raises(GatewayError) as info:
        await idem.run("caller", "k1", b"{}", handler)
    assert info.value.code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert info.value.temporary and info.value.retry_after == 1
    handler.release.set()
    await first


@pytest.mark.parametrize("key", ["", "has space", "é", "x" * 256, "tab\there"])
async def test_idempotency_rejects_malformed_keys(sqlite_store: SQLiteStore, key: str) -> None:
    """Keys are 1-255 printable ASCII characters."""
    with pytest.raises(GatewayError) as info:
        await keys(sqlite_store).run("caller", key, b"{}", Handler())
    assert info.value.code is ErrorCode.VALIDATION_ERROR
