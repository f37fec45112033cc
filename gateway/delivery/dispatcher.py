"""Work the outbox: deliver signed webhooks at least once, run timers.

Every gateway process runs one ``Dispatcher``. It claims due rows (``Store.claim_deliveries``
leases them, so processes never work one row at the same time), sends each, and records the
outcome. A process that dies mid-attempt leaves a lease that runs out, and another process
(or the same one, restarted) sends the row again with the same ``webhook-id``.

Fair: a claim takes the due rows of every receiver (a webhook endpoint, a widget's live-agent
platform) in turn, and leaves at most ``per_receiver`` attempts in flight to one receiver and
``per_org`` to one org, over every process. A receiver that hangs holds its own few attempts
until they time out; everyone else's deliveries go out beside them.

No poll in the way. A claim runs when this process stored a change (``wake``), when one of
its attempts finished (a slot is free), and when the next retry or timer of the outbox comes
due (``Store.next_delivery_due``). A FIFO queue (a ``fifo`` endpoint's conversation, a channel
conversation, a live-agent thread) moves on in the transaction that records its previous
delivery (``Store.finish_and_claim_next``), with no claim in between. The poll every
``poll_interval`` is left for what no process was told of: a lease that ran out, an endpoint
resumed on another process.
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
#: Seconds between two claims at least: a burst of stored changes makes one claim.
CLAIM_GAP = 0.01
#: Seconds added to a wait for the next due row, so that it is due when the claim runs.
DUE_MARGIN = 0.002
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
    #: Attempts at once in this process.
    concurrency: int = 64
    #: Attempts at once to one receiver, and to the receivers of one org, over every
    #: process; None: no cap.
    per_receiver: int | None = 8
    per_org: int | None = 16

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
        self._closing = False

    def wake(self) -> None:
        """Something was stored: look for due rows now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def aclose(self) -> None:
        """Stop claiming; let attempts in flight finish (their leases cover them), without
        moving their FIFO queues on."""
        self._closing = True
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
                full = await self._claim()
            except Exception:
                log.exception("claiming outbox rows failed; retrying")
                full = False
            # Woken while claiming (under load, a publish almost always is), the wait would
            # end at once: no read of when the next row is due (a reader-thread round trip).
            if not full and not self._wake.is_set():
                idle = await self._idle_for()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle)
            await asyncio.sleep(CLAIM_GAP)

    async def _idle_for(self) -> float:
        """Seconds until the next claim if nothing wakes this process: the poll interval, or
        less when a retry or a timer comes due sooner."""
        wait = self._policy.poll_interval
        try:
            due = await self._store.next_delivery_due(now())
        except Exception:
            log.exception("reading when the next outbox row is due failed")
            return wait
        if due is not None:
            wait = min(wait, max((due - now()).total_seconds(), 0.0) + DUE_MARGIN)
        return wait

    async def _claim(self) -> bool:
        """Start up to ``concurrency`` attempts at once; True when more may be due now."""
        free = self._policy.concurrency - len(self._running)
        if free <= 0:
            return False  # a finishing attempt wakes the loop
        policy = self._policy
        limit = min(policy.batch, free)
        rows = await self._store.claim_deliveries(
            self._owner,
            now(),
            policy.lease,
            limit,
            per_receiver=policy.per_receiver,
            per_org=policy.per_org,
        )
        for row in rows:
            task = asyncio.create_task(self._handle(row))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return len(rows) == limit

    async def _handle(self, delivery: Delivery) -> None:
        """Work a claimed row, then the rows of its FIFO queue as each becomes the head."""
        current: Delivery | None = delivery
        try:
            while current is not None:
                current = await self._attempt(current)
        finally:
            self.wake()  # a slot is free

    async def _attempt(self, delivery: Delivery) -> Delivery | None:
        """Send (or run) one row and record it; returns the next row of its queue, leased."""
        try:
            if delivery.target == "timer":
                outcome = await self._run_timer(delivery)
            else:
                outcome = await self._send(delivery)
            if delivery.fifo_key is None or self._closing:
                await self._store.finish_delivery(delivery, outcome, now())
                following = None
            else:
                following = await self._store.finish_and_claim_next(
                    delivery, outcome, now(), self._owner, self._policy.lease
                )
        except Exception:
            log.exception("outbox row %s failed in chatgate; its lease runs out", delivery.id)
            return None
        self._metrics.webhook_deliveries.labels(delivery.target, outcome.result).inc()
        if outcome.result == "dead" and delivery.target == "live_agent":
            try:
                await self._escalation.platform_gave_up(delivery)
            except Exception:
                log.exception("falling back from the live-agent platform failed (%s)", delivery.id)
        if outcome.result == "dead" and delivery.target == "bot":
            try:
                await self._escalation.bot_gave_up(delivery)
            except Exception:
                log.exception("falling back from a webhook bot failed (%s)", delivery.id)
        return following

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
