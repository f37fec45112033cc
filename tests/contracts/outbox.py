"""The outbox part of the ``Store`` contract: webhook endpoints, deliveries written with the
change they report, claims that never hand one row to two workers, retries, replay.

Mixed into each backend's test class next to ``StoreContract`` (same ``store`` fixture).
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import orjson

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role, Status
from storage.base import Store
from storage.models import (
    ConversationChange,
    Delivery,
    DeliveryAttempt,
    DeliveryOutcome,
    NewMessage,
    WebhookEndpoint,
    now,
)
from storage.outbox import LIVE_AGENT_ESCALATE
from tests.contracts.rows import (
    add_conversation,
    add_org,
    plan_of,
    refuse,
    refuse_with,
    visitor_says,
    widget_row,
)

__all__ = ["OutboxContract"]

LEASE = timedelta(seconds=30)
FAR = timedelta(days=1)


def endpoint_row(org_id: str, **fields: Any) -> WebhookEndpoint:
    at = now()
    base = WebhookEndpoint(
        id=str(uuid.uuid4()),
        org_id=org_id,
        url="https://hooks.example/in",
        kind="events",
        description="",
        event_types=(),
        secrets=(("whsec_" + "A" * 32, None),),
        fifo=False,
        status="active",
        paused_reason=None,
        failing_since=None,
        created_at=at,
        updated_at=at,
    )
    return dataclasses.replace(base, **fields)


async def add_endpoint(store: Store, org_id: str, **fields: Any) -> WebhookEndpoint:
    endpoint = endpoint_row(org_id, **fields)
    await store.create_webhook_endpoint(endpoint)
    return endpoint


def agent_says(content: str = "hi") -> NewMessage:
    return NewMessage(role=Role.AGENT, sender_id=None, content=content)


def attempt(delivery: Delivery, status_code: int | None = 500) -> DeliveryAttempt:
    return DeliveryAttempt(delivery.id, 0, now(), status_code, None, 3)


def outcome(result: str, delivery: Delivery, **fields: Any) -> DeliveryOutcome:
    code = 200 if result == "delivered" else 500
    return DeliveryOutcome(result, attempt(delivery, code), **fields)


async def claim_all(store: Store, at_offset: timedelta = timedelta(0)) -> list[Delivery]:
    return await store.claim_deliveries("worker-a", now() + at_offset, LEASE, 100)


def payload(delivery: Delivery) -> dict[str, Any]:
    return orjson.loads(delivery.payload)  # type: ignore[no-any-return]


class OutboxContract:
    """Tests every ``Store`` must pass for webhooks; subclasses provide ``store``."""

    async def test_outbox_endpoints_round_trip_within_their_org(self, store: Store) -> None:
        """An endpoint reads back as stored, updates, and is invisible to another org."""
        org, other = await add_org(store), await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",), fifo=True)
        assert await store.get_webhook_endpoint(org.id, endpoint.id) == endpoint
        assert await store.list_webhook_endpoints(org.id) == [endpoint]
        assert await store.get_webhook_endpoint(other.id, endpoint.id) is None
        assert (
            await store.update_webhook_endpoint(other.id, endpoint.id, {"url": "x"}, now()) is None
        )
        expires = now() + FAR
        secrets = (("whsec_" + "B" * 32, None), ("whsec_" + "A" * 32, expires))
        updated = await store.update_webhook_endpoint(
            org.id, endpoint.id, {"url": "https://new.example/h", "secrets": secrets}, now()
        )
        assert updated is not None
        assert (updated.url, updated.secrets) == ("https://new.example/h", secrets)
        assert not await store.delete_webhook_endpoint(other.id, endpoint.id, now())
        assert await store.delete_webhook_endpoint(org.id, endpoint.id, now())
        assert await store.list_webhook_endpoints(org.id) == []

    async def test_outbox_a_change_writes_one_delivery_per_subscribed_endpoint(
        self, store: Store
    ) -> None:
        """create + message: every-type endpoints get both, a message-only endpoint gets the
        message, a disabled one nothing, and each payload names org, conversation and seq."""
        org = await add_org(store)
        everything = await add_endpoint(store, org.id)
        messages_only = await add_endpoint(store, org.id, event_types=("message.created",))
        await add_endpoint(store, org.id, status="disabled")
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says("one")))
        claimed = await claim_all(store)
        got = sorted((d.endpoint_id == everything.id, d.event_type, d.seq) for d in claimed)
        assert got == [
            (False, "message.created", 1),
            (True, "conversation.created", 0),
            (True, "message.created", 1),
        ]
        for delivery in claimed:
            body = payload(delivery)
            assert body["id"] == delivery.message_id
            assert (body["org_id"], body["conversation_id"]) == (org.id, conversation.id)
            assert body["type"] == delivery.event_type and body["seq"] == delivery.seq
            assert delivery.url == "https://hooks.example/in"
            assert delivery.secrets == ("whsec_" + "A" * 32,)
        same_event = {d.message_id for d in claimed if d.event_type == "message.created"}
        assert len(same_event) == 1, "one event keeps one webhook-id across endpoints"
        assert messages_only.id in {d.endpoint_id for d in claimed}

    async def test_outbox_a_refused_change_writes_no_delivery(self, store: Store) -> None:
        """When decide refuses, neither the change nor its delivery exists."""
        org = await add_org(store)
        await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        error = GatewayError(ErrorCode.INVALID_STATE, "no")
        assert await refuse_with(store.apply(org.id, conversation.id, refuse(error))) is error
        assert await claim_all(store) == []

    async def test_outbox_status_changes_get_their_own_types(self, store: Store) -> None:
        """agent_requested also reports conversation.escalated; closed, conversation.ended."""
        org = await add_org(store)
        await add_endpoint(store, org.id)
        conversation = await add_conversation(store, org.id)
        for status in (Status.AGENT_REQUESTED, Status.CLOSED):
            change = ConversationChange({"status": status})
            await store.apply(org.id, conversation.id, plan_of(change))
        types = sorted((d.seq, d.event_type) for d in await claim_all(store))
        assert types == [
            (0, "conversation.created"),
            (1, "conversation.escalated"),
            (1, "conversation.updated"),
            (2, "conversation.ended"),
            (2, "conversation.updated"),
        ]

    async def test_outbox_concurrent_claims_never_share_a_row(self, store: Store) -> None:
        """Four claimers at once get disjoint rows; together, all of them."""
        org = await add_org(store)
        await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        for i in range(20):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
        batches = await asyncio.gather(
            *(store.claim_deliveries(f"w{i}", now(), LEASE, 7) for i in range(4))
        )
        ids = [d.id for batch in batches for d in batch]
        assert len(ids) == len(set(ids)) == 20

    async def test_outbox_a_lease_that_runs_out_is_claimed_again(self, store: Store) -> None:
        """A claimed row is not due while leased, and due again once the lease has run out."""
        org = await add_org(store)
        await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        (first,) = await claim_all(store)
        assert await claim_all(store) == []
        (again,) = await claim_all(store, LEASE + timedelta(seconds=1))
        assert (again.id, again.message_id) == (first.id, first.message_id)

    async def test_outbox_retry_waits_then_delivers_with_numbered_attempts(
        self, store: Store
    ) -> None:
        """A retried row is due at its retry time; once delivered it is never claimed again."""
        org = await add_org(store)
        await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        (delivery,) = await claim_all(store)
        retry_at = now() + timedelta(minutes=5)
        assert await store.finish_delivery(
            delivery, outcome("retry", delivery, retry_at=retry_at), now()
        )
        assert await claim_all(store) == []
        (again,) = await claim_all(store, timedelta(minutes=5, seconds=1))
        assert again.attempts == 1
        assert await store.finish_delivery(again, outcome("delivered", again), now())
        assert not await store.finish_delivery(again, outcome("delivered", again), now())
        assert await claim_all(store, FAR) == []
        stored = await store.get_delivery(org.id, delivery.id)
        assert stored is not None
        assert (stored.status, stored.attempts, stored.last_status) == ("delivered", 2, 200)
        attempts = await store.list_delivery_attempts(org.id, delivery.id)
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 200)]
        assert await store.list_delivery_attempts((await add_org(store)).id, delivery.id) == []

    async def test_outbox_fifo_endpoint_gets_one_conversation_in_order(self, store: Store) -> None:
        """With fifo, a conversation's next delivery waits until the one before it is done;
        other conversations are not held up."""
        org = await add_org(store)
        await add_endpoint(store, org.id, fifo=True, event_types=("message.created",))
        first, second = await add_conversation(store, org.id), await add_conversation(store, org.id)
        for conversation in (first, second, first):
            await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        claimed = await claim_all(store)
        assert sorted((d.conversation_id, d.seq) for d in claimed) == sorted(
            [(first.id, 1), (second.id, 1)]
        )
        head = next(d for d in claimed if d.conversation_id == first.id)
        await store.finish_delivery(head, outcome("retry", head, retry_at=now()), now())
        (retried,) = await claim_all(store, timedelta(seconds=1))
        assert retried.id == head.id, "a failing head keeps its place"
        await store.finish_delivery(retried, outcome("delivered", retried), now())
        (nxt,) = await claim_all(store, timedelta(seconds=1))
        assert (nxt.conversation_id, nxt.seq) == (first.id, 2)

    async def test_outbox_dead_letter_pauses_a_failing_endpoint_until_resumed(
        self, store: Store
    ) -> None:
        """A dead delivery on an endpoint that has failed everything pauses it with the reason;
        a paused endpoint's deliveries wait, and go out once it is active again."""
        org = await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says("a")))
        (delivery,) = await claim_all(store)
        await store.finish_delivery(delivery, outcome("retry", delivery, retry_at=now()), now())
        (delivery,) = await claim_all(store, timedelta(seconds=1))
        dead = outcome("dead", delivery, pause_reason="every attempt failed")
        assert await store.finish_delivery(delivery, dead, now() + timedelta(seconds=1))
        paused = await store.get_webhook_endpoint(org.id, endpoint.id)
        assert paused is not None
        assert (paused.status, paused.paused_reason) == ("paused", "every attempt failed")
        await store.apply(org.id, conversation.id, plan_of(visitor_says("b")))
        assert await claim_all(store, timedelta(seconds=2)) == []
        await store.update_webhook_endpoint(
            org.id, endpoint.id, {"status": "active", "paused_reason": None}, now()
        )
        (waiting,) = await claim_all(store, timedelta(seconds=2))
        assert waiting.seq == 2

    async def test_outbox_a_success_in_between_keeps_the_endpoint_active(
        self, store: Store
    ) -> None:
        """One message failing to the end does not pause an endpoint that delivers others."""
        org = await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        for text in ("bad", "good"):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(text)))
        bad, good = sorted(await claim_all(store), key=lambda d: d.seq or 0)
        await store.finish_delivery(bad, outcome("retry", bad, retry_at=now()), now())
        await store.finish_delivery(good, outcome("delivered", good), now())
        (bad,) = await claim_all(store, timedelta(seconds=1))
        await store.finish_delivery(bad, outcome("dead", bad, pause_reason="x"), now())
        stored = await store.get_webhook_endpoint(org.id, endpoint.id)
        assert stored is not None and stored.status == "active"

    async def test_outbox_replay_sends_again_with_the_same_message_id(self, store: Store) -> None:
        """Replaying a dead delivery makes it due at once, schedule from the start, same id;
        the attempt history keeps counting."""
        org = await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        (delivery,) = await claim_all(store)
        await store.finish_delivery(delivery, outcome("dead", delivery), now())
        other = await add_org(store)
        assert await store.replay_deliveries(other.id, endpoint.id, at=now()) == 0
        replayed = await store.replay_deliveries(
            org.id, endpoint.id, since=now() - FAR, until=now() + FAR, at=now()
        )
        assert replayed == 1
        (again,) = await claim_all(store, timedelta(seconds=1))
        assert (again.id, again.message_id, again.attempts) == (
            delivery.id,
            delivery.message_id,
            0,
        )
        await store.finish_delivery(again, outcome("delivered", again), now())
        attempts = await store.list_delivery_attempts(org.id, delivery.id)
        assert [a.attempt for a in attempts] == [1, 2]
        page = await store.list_deliveries(org.id, endpoint.id, status="delivered")
        assert [d.id for d in page] == [delivery.id]

    async def test_outbox_deleting_an_endpoint_cancels_what_waits(self, store: Store) -> None:
        org = await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        assert await store.delete_webhook_endpoint(org.id, endpoint.id, now())
        assert await claim_all(store) == []

    async def test_outbox_list_deliveries_pages_newest_first(self, store: Store) -> None:
        org = await add_org(store)
        endpoint = await add_endpoint(store, org.id, event_types=("message.created",))
        conversation = await add_conversation(store, org.id)
        for i in range(5):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
        first = await store.list_deliveries(org.id, endpoint.id, limit=3)
        rest = await store.list_deliveries(org.id, endpoint.id, after=first[-1].id, limit=3)
        assert [d.seq for d in first + rest] == [5, 4, 3, 2, 1]
        assert await store.list_deliveries((await add_org(store)).id, endpoint.id) == []

    async def test_outbox_expired_secrets_are_not_handed_out(self, store: Store) -> None:
        """During a rotation both secrets sign; after the grace period only the new one."""
        org = await add_org(store)
        new, old = "whsec_" + "N" * 32, "whsec_" + "O" * 32
        await add_endpoint(
            store,
            org.id,
            event_types=("message.created",),
            secrets=((new, None), (old, now() + timedelta(minutes=1))),
        )
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        (delivery,) = await claim_all(store)
        assert delivery.secrets == (new, old)
        (later,) = await claim_all(store, timedelta(minutes=2))
        assert later.secrets == (new,)

    async def test_outbox_live_agent_timer_and_forwarding(self, store: Store) -> None:
        """With a live-agent widget: asking for a human sets the escalation timer; once
        handed off, each visitor message is forwarded to the widget's URL, signed with its
        secret, in order."""
        org = await add_org(store)
        widget = widget_row(
            org.id,
            live_agent_endpoint_url="https://agents.example/hook",
            live_agent_escalate_after=30,
            live_agent_secret="whsec_" + "W" * 32,
        )
        await store.create_widget(widget)
        conversation = await add_conversation(store, org.id, widget_id=widget.id)
        await store.apply(
            org.id, conversation.id, plan_of(ConversationChange({"status": Status.AGENT_REQUESTED}))
        )
        assert await claim_all(store) == []
        (timer,) = await claim_all(store, timedelta(seconds=31))
        assert (timer.target, timer.event_type) == ("timer", LIVE_AGENT_ESCALATE)
        assert payload(timer)["conversation_id"] == conversation.id
        await store.finish_delivery(timer, DeliveryOutcome("delivered", None), now())
        await store.apply(org.id, conversation.id, plan_of(visitor_says("before handoff")))
        handoff = ConversationChange({"live_agent_handoff_at": now()})
        await store.apply(org.id, conversation.id, plan_of(handoff))
        for text in ("first", "second"):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(text)))
        await store.apply(org.id, conversation.id, plan_of(agent_says("not forwarded")))
        (head,) = await claim_all(store, timedelta(seconds=31))
        assert (head.target, head.event_type, head.url) == (
            "live_agent",
            "MESSAGE",
            "https://agents.example/hook",
        )
        assert head.secrets == ("whsec_" + "W" * 32,)
        body = payload(head)
        assert (body["thread_id"], body["message"]["content"]) == (conversation.id, "first")
        await store.finish_delivery(head, outcome("delivered", head), now())
        (nxt,) = await claim_all(store, timedelta(seconds=31))
        assert payload(nxt)["message"]["content"] == "second"

    async def test_outbox_api_channel_gets_outgoing_messages_only(self, store: Store) -> None:
        """An ``api`` conversation's agent messages go to channel endpoints; visitor messages
        and ``widget`` conversations do not."""
        org = await add_org(store)
        channel = await add_endpoint(store, org.id, kind="channel")
        api = await add_conversation(store, org.id, channel="api")
        widget = await add_conversation(store, org.id)
        for conversation in (api, widget):
            await store.apply(org.id, conversation.id, plan_of(visitor_says()))
            await store.apply(org.id, conversation.id, plan_of(agent_says("reply")))
        (delivery,) = await claim_all(store)
        assert (delivery.endpoint_id, delivery.event_type) == (channel.id, "channel.message")
        body = payload(delivery)
        assert body["conversation_id"] == api.id
        assert body["data"]["message"]["content"] == "reply"
        assert body["data"]["conversation"]["channel"] == "api"
        stored = await store.get_conversation(org.id, api.id)
        assert stored is not None and stored.channel == "api"

    async def test_outbox_enqueue_and_plan_items_are_written(self, store: Store) -> None:
        """Rows given to enqueue, or carried by a plan, are claimable when due."""
        from storage.models import OutboxItem, Plan

        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        item = OutboxItem(
            message_id="msg_1",
            org_id=org.id,
            target="timer",
            event_type="test.timer",
            payload={"n": 1},
            due_at=now(),
            conversation_id=conversation.id,
        )
        await store.enqueue([item])
        carried = dataclasses.replace(item, message_id="msg_2", payload={"n": 2})
        await store.apply(org.id, conversation.id, lambda c: Plan((), outbox=(carried,)))
        claimed = await claim_all(store)
        assert sorted(payload(d)["n"] for d in claimed) == [1, 2]
