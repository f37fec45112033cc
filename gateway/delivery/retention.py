"""Retention: what the store forgets, and when.

Every gateway process sweeps every ``interval`` seconds (the first sweep at start-up) and forgets:

- finished deliveries (delivered, dead, cancelled) and their attempts, ``deliveries`` after
  they finished (``CHATGATE_DELIVERY_RETENTION_DAYS``, 30; 0 keeps them);
- ``Idempotency-Key`` records, once expired (``CHATGATE_IDEMPOTENCY_TTL`` after the request);
- gateway node leases, a day after their last heartbeat.

Nothing a user can still use goes: a pending delivery is never purged, however old, and an
idempotency key is purged only once it would no longer replay. Visitor sessions are signed
tokens, not rows; see docs/operations.md for why contacts are kept.

Each batch of at most ``batch`` rows is its own short transaction, and the sweep pauses
between batches, so writers queued behind a batch go first (on SQLite they share its commit
otherwise; on PostgreSQL the rows a batch takes are ``SKIP LOCKED``). Several processes may
sweep at once: they only share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from storage.base import Store
from storage.models import now

__all__ = ["NODE_RETENTION", "Retention", "RetentionPolicy", "Swept"]

log = logging.getLogger(__name__)

#: How long a gateway node's lease is kept after its last heartbeat (it is ignored after
#: ``realtime.nodes.NODE_LEASE`` already; this only keeps the table small).
NODE_RETENTION = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    #: How long finished deliveries are kept; None: forever.
    deliveries: timedelta | None
    idempotency_keys: timedelta
    nodes: timedelta = NODE_RETENTION
    #: Seconds between two sweeps.
    interval: float = 600.0
    #: Rows per transaction.
    batch: int = 500
    #: Seconds between two batches.
    pause: float = 0.01


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep deleted."""

    deliveries: int = 0
    idempotency_keys: int = 0
    nodes: int = 0
    #: Sign-in sessions expired or signed out.
    sessions: int = 0


class Retention:
    def __init__(self, store: Store, policy: RetentionPolicy) -> None:
        self._store = store
        self._policy = policy
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> Swept:
        """Delete everything that is due to go, batch by batch."""
        policy = self._policy
        at = now()
        deliveries = 0
        if policy.deliveries is not None:
            before = at - policy.deliveries
            deliveries = await self._batches(lambda n: self._store.purge_deliveries(before, n))
        keys_before = at - policy.idempotency_keys
        keys = await self._batches(lambda n: self._store.purge_idempotency_keys(keys_before, n))
        nodes = await self._store.purge_nodes(at - policy.nodes)
        sessions = await self._batches(lambda n: self._store.purge_agent_sessions(at, n))
        return Swept(deliveries, keys, nodes, sessions)

    async def _batches(self, purge: Callable[[int], Awaitable[int]]) -> int:
        total = 0
        while True:
            deleted = await purge(self._policy.batch)
            total += deleted
            if deleted < self._policy.batch:
                return total
            await asyncio.sleep(self._policy.pause)

    async def _run(self) -> None:
        while True:
            try:
                swept = await self.sweep()
            except Exception:
                log.exception("the retention sweep failed; it runs again later")
            else:
                if swept != Swept():
                    log.info(
                        "retention: purged %d deliveries, %d idempotency keys, %d node leases",
                        swept.deliveries,
                        swept.idempotency_keys,
                        swept.nodes,
                    )
            await asyncio.sleep(self._policy.interval)
