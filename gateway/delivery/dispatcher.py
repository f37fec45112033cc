"""Work the outbox: deliver signed webhooks at least once, run timers.

Every gateway process runs one ``Dispatcher``. It claims due rows (``Store.claim_deliveries``
leases them, so processes never work one row at the same time), sends each, and records the
outcome. A process that dies mid-attempt leaves a lease that runs out, and another process
(or the same one, restarted) sends the row again with the same ``webhook-id``.

A claim runs when this process stored a change (``wake``), or every ``poll_interval``
seconds for rows that other processes wrote, retries that came due, and leases that ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from gateway.core.metrics import Metrics
from gateway.delivery.escalation import Escalation
from gateway.delivery.retries import RetrySchedule, retry_after_seconds
from gateway.delivery.signing import signature_headers
from gateway.media.fetch import Fetcher, FetchRefused
from storage.base import Store
from storage.models import Delivery, DeliveryAttempt, DeliveryOutcome, now

__all__ = ["Dispatcher", "DispatchPolicy"]

log = logging.getLogger(__name__)

USER_AGENT = "chatgate-webhooks/1"
#: Refusals whose message may name the addresses a host resolved to.
NAMES_ADDRESSES = frozenset({"unsafe_address", "connection_failed"})
#: Seconds between two claims at least.
CLAIM_GAP = 0.01
#: Seconds before a timer that raised runs again.
TIMER_RETRY = 5.0


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    #: Retries of webhook and channel endpoints.
    webhooks: RetrySchedule
    #: Retries of deliveries to live-agent platforms (a visitor is waiting: shorter).
    live_agent: RetrySchedule
    #: Seconds per attempt (the fetcher's own timeout); a lease lasts a little longer.
    timeout: float
    poll_interval: float = 1.0
    batch: int = 100
    concurrency: int = 32

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout + 5)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: Fetcher,
        escalation: Escalation,
        policy: DispatchPolicy,
        metrics: Metrics,
        owner: str,
    ) -> None:
        self._store = store
        self._sender = sender
        self._escalation = escalation
        self._policy = policy
        self._metrics = metrics
        self._owner = owner
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was stored: look for due rows now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def aclose(self) -> None:
        """Stop claiming; let attempts in flight finish (their leases cover them)."""
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        if self._running:
            await asyncio.wait(self._running, timeout=self._policy.timeout)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                more = await self._claim()
            except Exception:
                log.exception("claiming outbox rows failed; retrying")
                more = False
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._policy.poll_interval)
                # A burst of stored changes makes one claim, not one each.
                await asyncio.sleep(CLAIM_GAP)

    async def _claim(self) -> bool:
        """Start up to ``concurrency`` attempts at once; True when more may be due now."""
        free = self._policy.concurrency - len(self._running)
        if free <= 0:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            return True
        limit = min(self._policy.batch, free)
        rows = await self._store.claim_deliveries(self._owner, now(), self._policy.lease, limit)
        for row in rows:
            task = asyncio.create_task(self._handle(row))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(rows) == limit

    async def _handle(self, delivery: Delivery) -> None:
        try:
            if delivery.target == "timer":
                outcome = await self._run_timer(delivery)
            else:
                outcome = await self._send(delivery)
            await self._store.finish_delivery(delivery, outcome, now())
        except Exception:
            log.exception("outbox row %s failed in chatgate; its lease runs out", delivery.id)
            return
        self._metrics.webhook_deliveries.labels(delivery.target, outcome.result).inc()
        if outcome.result == "dead" and delivery.target == "live_agent":
            await self._escalation.platform_gave_up(delivery)

    async def _run_timer(self, timer: Delivery) -> DeliveryOutcome:
        try:
            await self._escalation.run_timer(timer)
        except Exception:
            log.exception("timer %s (%s) failed; runs again", timer.event_type, timer.id)
            retry_at = now() + timedelta(seconds=TIMER_RETRY)
            return DeliveryOutcome("retry", None, retry_at=retry_at)
        return DeliveryOutcome("delivered", None)

    async def _send(self, delivery: Delivery) -> DeliveryOutcome:
        if delivery.url is None:
            # The endpoint was deleted, or the widget no longer has a live-agent platform.
            return DeliveryOutcome("cancelled", None)
        policy = self._policy
        schedule = policy.live_agent if delivery.target == "live_agent" else policy.webhooks
        headers = {
            "content-type": "application/json",
            "accept": "*/*",
            "user-agent": USER_AGENT,
            **signature_headers(
                delivery.message_id, int(time.time()), delivery.payload, delivery.secrets
            ),
        }
        at = now()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        try:
            posted = await self._sender.post(delivery.url, delivery.payload, headers)
            status = posted.status
            if not 200 <= status < 300:
                error = f"HTTP {status}: {posted.body[:200].decode('utf-8', 'replace')}"
                retry_after = retry_after_seconds(posted.retry_after)
        except FetchRefused as exc:
            # The org reads this: keep out messages that may name the addresses a host
            # resolved to (the reason alone says enough there).
            named = exc.reason in NAMES_ADDRESSES
            error = exc.reason if named else f"{exc.reason}: {exc.message}"
        duration = int((time.perf_counter() - started) * 1000)
        attempt = DeliveryAttempt(delivery.id, 0, at, status, error, duration)
        if error is None:
            return DeliveryOutcome("delivered", attempt)
        delay = schedule.next_delay(delivery.attempts + 1, retry_after)
        if delay is not None:
            retry_at = now() + timedelta(seconds=delay)
            return DeliveryOutcome("retry", attempt, retry_at=retry_at)
        reason = (
            f"delivery {delivery.id} ({delivery.message_id}) failed all "
            f"{schedule.attempts} attempts; last: {error}"
        )
        return DeliveryOutcome("dead", attempt, pause_reason=reason[:500])
