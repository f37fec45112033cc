"""The fairness part of the outbox contract: claims take every receiver's rows in turn within
caps per receiver and per org, a FIFO queue moves on in the transaction that finishes its
head, and the store says when the next row comes due.

Mixed into each backend's test class next to ``OutboxContract`` (same ``store`` fixture).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from protocol.states import Status
from storage.base import Store
from storage.models import ConversationChange, DeliveryOutcome, OutboxItem, now
from tests.contracts.outbox import LEASE, add_endpoint, claim_all, outcome, payload
from tests.contracts.rows import add_conversation, add_org, plan_of, visitor_says, widget_row

__all__ = ["ClaimsContract"]


async def backlog(store: Store, org_id: str, count: int, **endpoint: object) -> str:
    """An endpoint of ``org_id`` with ``count`` due deliveries (one conversation's messages);
    returns the endpoint's id."""
    hook = await add_endpoint(store, org_id, event_types=("message.created",), **endpoint)
    conversation = await add_conversation(store, org_id)
    for i in range(count):
        await store.apply(org_id, conversation.id, plan_of(visitor_says(f"m{i}")))
    return hook.id


async def timer(store: Store, org_id: str) -> None:
    conversation = await add_conversation(store, org_id)
    await store.enqueue(
        [
            OutboxItem(
                message_id=f"msg_{conversation.id}",
                org_id=org_id,
                target="timer",
                event_type="test.timer",
                payload={"conversation_id": conversation.id},
                due_at=now(),
                conversation_id=conversation.id,
            )
        ]
    )


class ClaimsContract:
    """Tests every ``Store`` must pass for fair claims; subclasses provide ``store``."""

    async def test_claims_take_every_receiver_in_turn(self, store: Store) -> None:
        """Behind 20 older rows of one endpoint, another org's newer row is among the first
        two a claim hands out, and the busy endpoint gets no more than its cap."""
        busy, calm = await add_org(store), await add_org(store)
        stuck = await backlog(store, busy.id, 20)
        other = await backlog(store, calm.id, 1)
        claimed = await store.claim_deliveries("w", now(), LEASE, 10, per_receiver=3)
        assert [d.endpoint_id for d in claimed].count(stuck) == 3
        assert other in {d.endpoint_id for d in claimed[:2]}
        assert len(claimed) == 4

    async def test_claims_count_the_leases_of_every_owner(self, store: Store) -> None:
        """A receiver at its cap gets nothing from another claimer until one of its attempts
        finishes or its lease runs out."""
        org = await add_org(store)
        await backlog(store, org.id, 6)
        first = await store.claim_deliveries("a", now(), LEASE, 10, per_receiver=2)
        assert len(first) == 2
        assert await store.claim_deliveries("b", now(), LEASE, 10, per_receiver=2) == []
        await store.finish_delivery(first[0], outcome("delivered", first[0]), now())
        (freed,) = await store.claim_deliveries("b", now(), LEASE, 10, per_receiver=2)
        assert freed.id not in {d.id for d in first}
        later = now() + LEASE + timedelta(seconds=1)
        assert len(await store.claim_deliveries("c", later, LEASE, 10, per_receiver=2)) == 2

    async def test_claims_an_org_cap_spans_its_receivers(self, store: Store) -> None:
        """Three endpoints of one org share its cap; another org is not held back by it."""
        org, other = await add_org(store), await add_org(store)
        for _ in range(3):
            await backlog(store, org.id, 4)
        elsewhere = await backlog(store, other.id, 2)
        claimed = await store.claim_deliveries("w", now(), LEASE, 50, per_receiver=2, per_org=3)
        assert sum(d.org_id == org.id for d in claimed) == 3
        assert [d.endpoint_id for d in claimed if d.org_id == other.id] == [elsewhere] * 2
        more = await store.claim_deliveries("v", now(), LEASE, 50, per_receiver=2, per_org=3)
        assert more == []

    async def test_claims_timers_count_against_no_cap(self, store: Store) -> None:
        """An org at its cap still has its due timers claimed: they send nothing."""
        org = await add_org(store)
        await backlog(store, org.id, 4)
        await timer(store, org.id)
        claimed = await store.claim_deliveries("w", now(), LEASE, 50, per_receiver=1, per_org=1)
        assert sorted(d.target for d in claimed) == ["endpoint", "timer"]

    async def test_claims_a_paused_endpoint_holds_no_slot(self, store: Store) -> None:
        """A paused endpoint's rows are not claimed; the org's other endpoint's are."""
        org = await add_org(store)
        paused = await backlog(store, org.id, 3)
        await store.update_webhook_endpoint(org.id, paused, {"status": "paused"}, now())
        active = await backlog(store, org.id, 1)
        claimed = await store.claim_deliveries("w", now(), LEASE, 50, per_org=1)
        assert [d.endpoint_id for d in claimed] == [active]

    async def test_claims_finishing_a_fifo_head_leases_the_next(self, store: Store) -> None:
        """Finishing the head of a FIFO queue leases its next row to the same owner in the
        same step (no other claimer gets it); a retried head keeps its place."""
        org = await add_org(store)
        await backlog(store, org.id, 3, fifo=True)
        (head,) = await claim_all(store)
        retry = outcome("retry", head, retry_at=now())
        assert await store.finish_and_claim_next(head, retry, now(), "w", LEASE) is None
        (head,) = await claim_all(store, timedelta(seconds=1))
        assert head.seq == 1 and head.fifo_key is not None
        second = await store.finish_and_claim_next(
            head, outcome("delivered", head), now(), "w", LEASE
        )
        assert second is not None and second.seq == 2
        assert second.url == "https://hooks.example/in" and second.secrets
        assert await claim_all(store) == [], "the next row is leased already"
        third = await store.finish_and_claim_next(
            second, outcome("dead", second), now(), "w", LEASE
        )
        assert third is not None and third.seq == 3, "a dead row lets the queue move on"
        done = await store.finish_and_claim_next(
            third, outcome("delivered", third), now(), "w", LEASE
        )
        assert done is None
        stored = await store.get_delivery(org.id, third.id)
        assert stored is not None and stored.status == "delivered"

    async def test_claims_a_fifo_queue_waits_for_a_paused_endpoint(self, store: Store) -> None:
        """The next row of a queue whose endpoint was paused meanwhile is not leased."""
        org = await add_org(store)
        endpoint = await backlog(store, org.id, 2, fifo=True)
        (head,) = await claim_all(store)
        await store.update_webhook_endpoint(org.id, endpoint, {"status": "paused"}, now())
        done = outcome("delivered", head)
        assert await store.finish_and_claim_next(head, done, now(), "w", LEASE) is None

    async def test_claims_live_agent_thread_moves_on_its_own(self, store: Store) -> None:
        """Forwards to a live-agent platform form one queue per thread, moved by finishing."""
        org = await add_org(store)
        widget = widget_row(org.id, live_agent_endpoint_url="https://agents.example/hook")
        await store.create_widget(widget)
        conversation = await add_conversation(store, org.id, widget_id=widget.id)
        for change in (
            ConversationChange({"status": Status.AGENT_REQUESTED}),
            ConversationChange({"live_agent_handoff_at": now()}),
        ):
            await store.apply(org.id, conversation.id, plan_of(change))
        for text in ("one", "two"):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(text)))
        (first,) = [d for d in await claim_all(store) if d.target == "live_agent"]
        second = await store.finish_and_claim_next(
            first, DeliveryOutcome("delivered", None), now(), "w", LEASE
        )
        assert second is not None and payload(second)["message"]["content"] == "two"

    async def test_claims_next_delivery_due_is_the_next_retry(self, store: Store) -> None:
        """The store names when the next row comes due: a retry later than now, not the
        rows that are due already."""
        org = await add_org(store)
        await backlog(store, org.id, 2)
        assert await store.next_delivery_due(now()) is None
        first, _ = await claim_all(store)
        retry_at = now() + timedelta(minutes=5)
        await store.finish_delivery(first, outcome("retry", first, retry_at=retry_at), now())
        due = await store.next_delivery_due(now())
        assert due is not None and abs(due - retry_at) < timedelta(milliseconds=2)
        assert await store.next_delivery_due(retry_at) is None

    async def test_claims_deleting_an_endpoint_while_attempts_finish(self, store: Store) -> None:
        """An endpoint deleted while 30 of its failed attempts are being recorded: every call
        returns (no deadlock between a finishing attempt, which locks its row then its
        endpoint, and the delete), and nothing of the endpoint is left pending."""
        org = await add_org(store)
        endpoint = await backlog(store, org.id, 40)
        claimed = await claim_all(store)
        later = now() + timedelta(minutes=1)
        finishes = [
            store.finish_delivery(d, outcome("retry", d, retry_at=later), now())
            for d in claimed[:30]
        ]
        delete = store.delete_webhook_endpoint(org.id, endpoint, now())
        results = await asyncio.gather(*finishes[:15], delete, *finishes[15:])
        assert results[15] is True
        left = await store.list_deliveries(org.id, endpoint, status="pending", limit=100)
        assert left == []
