"""Group commit: calls that arrive together share one transaction.

Every ``submit`` queues a unit of work and waits for its outcome. Units submitted in the same
event-loop iteration, and those that queue while the batches already running are under way,
form the next batch (at most ``max_batch`` units); at most ``max_in_flight`` batches run at
once. ``commit`` runs a batch and answers each unit's outcome once the transaction that holds
it is committed, so no caller hears back before its work is durable: under load there are
simply fewer transactions, and fewer round trips, than callers.

A caller that is cancelled stops waiting; its unit is still run (or not) with its batch, as a
transaction already sent to the database would be. ``aclose`` lets every queued unit run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["MAX_BATCH", "MAX_IN_FLIGHT", "GroupCommit"]

U = TypeVar("U")
R = TypeVar("R")

#: Most units in one batch.
MAX_BATCH = 128
#: Most batches running at once. More than one lets a batch that waits for a row lock held
#: elsewhere (another process writing the same conversation) not hold up every other send.
MAX_IN_FLIGHT = 2

#: Runs one batch; answers, in order, each unit's result or the exception it failed with
#: (the result type is never an exception). Raising fails every unit of the batch.
Commit = Callable[[Sequence[U]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[U, R]):
    """Batches units of work for ``commit``; see the module docstring."""

    def __init__(
        self,
        commit: Commit[U, R],
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._commit = commit
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: deque[tuple[U, asyncio.Future[R]]] = deque()
        self._running: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._closed = False
        #: Batches run so far (for tests and benchmarks: units per batch = units / batches).
        self.batches = 0

    async def submit(self, unit: U) -> R:
        """Run ``unit`` in the next batch; returns (or raises) its outcome once committed."""
        if self._closed:
            raise RuntimeError("the group commit is closed")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((unit, future))
        self._schedule()
        return await future

    async def aclose(self) -> None:
        """Refuse new units, run those queued, and return when every batch is done."""
        self._closed = True
        while self._running or self._queue:
            if self._running:
                await asyncio.wait(set(self._running))
            else:  # queued, but the batch that takes them is not started yet
                await asyncio.sleep(0)

    def _schedule(self) -> None:
        # Start on the next loop iteration, not now: the units submitted meanwhile (every
        # task woken with this one) join the batch.
        if self._scheduled or not self._queue or len(self._running) >= self._max_in_flight:
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        while self._queue and len(self._running) < self._max_in_flight:
            size = min(self._max_batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(size)]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._schedule()

    async def _run(self, batch: list[tuple[U, asyncio.Future[R]]]) -> None:
        self.batches += 1
        outcomes: Sequence[R | BaseException]
        try:
            outcomes = await self._commit([unit for unit, _ in batch])
        except asyncio.CancelledError:  # the loop is going away: so are the callers
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            outcomes = [exc] * len(batch)
        if len(outcomes) != len(batch):
            error = RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller was cancelled; the work stands (or not) regardless
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
