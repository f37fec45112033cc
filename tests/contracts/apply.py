"""The ``Store`` contract, ``apply``: plans stored atomically with gap-free seqs, replays by
``client_message_id``, and the monthly message quota.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gateway.core.lifecycle import TAKEOVER_MARKER, plan_message, plan_update
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status
from storage.base import Store
from storage.models import (
    ConversationChange,
    NewMessage,
    now,
    to_wire,
)
from tests.contracts.outbox import add_endpoint
from tests.contracts.rows import (
    add_conversation,
    add_org,
    agent_row,
    new_id,
    not_found,
    plan_of,
    refuse,
    refuse_with,
    visitor_says,
)

__all__ = ["ApplyContract"]


class ApplyContract:
    """``Store.apply`` and the quota it enforces."""

    # -- apply ----------------------------------------------------------------------------

    async def test_apply_appends_a_message_with_seq_1(self, store: Store) -> None:
        """The first message takes seq 1 and is stored with every field as planned."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        planned = NewMessage(
            role=Role.VISITOR,
            sender_id="visitor-1",
            content="Hi, où est ma commande? 📦",
            attachments=({"url": "https://cdn.example/a.png", "mime": "image/png", "size": 3},),
            metadata={"source": "api"},
            client_message_id="cm-1",
        )
        applied = await store.apply(org.id, conversation.id, plan_of(planned))
        (message,) = applied.messages
        assert (message.conversation_id, message.seq) == (conversation.id, 1)
        assert (message.role, message.sender_id, message.content) == (
            Role.VISITOR,
            "visitor-1",
            planned.content,
        )
        assert message.attachments == planned.attachments
        assert message.metadata == {"source": "api"}
        assert message.client_message_id == "cm-1"
        assert message.created_at >= conversation.created_at
        assert applied.events == (MessageCreated(conversation.id, 1, to_wire(message)),)
        assert applied.replayed is None
        assert applied.conversation.last_seq == 1
        assert await store.list_messages(conversation.id, 0, 10) == [message]

    async def test_apply_says_whether_the_outbox_has_work(self, store: Store) -> None:
        """A message to an org with no webhook endpoint, live-agent platform or webhook bot
        writes no outbox row, and says so (the dispatcher is not woken for it); once an
        endpoint exists, a message does."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        quiet = await store.apply(org.id, conversation.id, plan_of(visitor_says("hi")))
        assert quiet.events and quiet.outbox is False
        await add_endpoint(store, org.id, event_types=("message.created",))
        heard = await store.apply(org.id, conversation.id, plan_of(visitor_says("hello")))
        assert heard.outbox is True
        claimed = await store.claim_deliveries("o1", now(), timedelta(seconds=30), 10)
        assert [row.seq for row in claimed] == [2]

    async def test_apply_keeps_a_message_s_own_time_and_orders_by_seq(self, store: Store) -> None:
        """A message planned with its own ``created_at`` (a live agent's platform time) is
        stored and read back with that time; a later message with an earlier time still comes
        after it, in seq order."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        sent = conversation.created_at + timedelta(seconds=30, milliseconds=941)
        earlier = conversation.created_at + timedelta(seconds=5)
        for content, at in (("first", sent), ("second", earlier)):
            planned = NewMessage(Role.LIVE_AGENT, "sam", content, created_at=at)
            await store.apply(org.id, conversation.id, plan_of(planned))
        stored = await store.list_messages(conversation.id, 0, 10)
        assert [(m.seq, m.content, m.created_at) for m in stored] == [
            (1, "first", sent),
            (2, "second", earlier),
        ]

    async def test_apply_result_is_what_is_stored(self, store: Store) -> None:
        """The conversation apply returns equals what get_conversation reads afterwards."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        applied = await store.apply(
            org.id,
            conversation.id,
            plan_of(ConversationChange({"status": Status.AGENT_REQUESTED}), visitor_says()),
        )
        assert applied.conversation.status is Status.AGENT_REQUESTED
        assert applied.conversation.last_seq == 2
        assert applied.conversation.updated_at >= conversation.updated_at
        assert await store.get_conversation(org.id, conversation.id) == applied.conversation
        assert await store.last_seq(conversation.id) == 2

    async def test_apply_concurrent_messages_take_seqs_1_to_n(self, store: Store) -> None:
        """50 concurrent applies of one message each get seqs exactly 1..50."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        results = await asyncio.gather(
            *(
                store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
                for i in range(50)
            )
        )
        seqs = sorted(r.messages[0].seq for r in results)
        assert seqs == list(range(1, 51))
        assert await store.last_seq(conversation.id) == 50
        stored = await store.list_messages(conversation.id, 0, 100)
        assert [m.seq for m in stored] == list(range(1, 51))
        assert {m.content for m in stored} == {f"m{i}" for i in range(50)}

    async def test_apply_plan_steps_take_consecutive_seqs(self, store: Store) -> None:
        """A change and two messages take the next three seqs, events in seq order."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says("before")))
        applied = await store.apply(
            org.id,
            conversation.id,
            plan_of(
                ConversationChange({"status": Status.AGENT_REQUESTED, "assignee_id": None}),
                visitor_says("one"),
                visitor_says("two"),
            ),
        )
        change, one, two = applied.events
        assert [e.seq for e in applied.events] == [2, 3, 4]
        assert isinstance(change, ConversationUpdated)
        assert change.changes == {"status": ["bot_active", "agent_requested"]}
        assert change.conversation["status"] == "agent_requested"
        assert change.conversation["last_seq"] == 2
        assert isinstance(one, MessageCreated) and one.message["content"] == "one"
        assert isinstance(two, MessageCreated) and two.message["content"] == "two"
        assert [m.seq for m in applied.messages] == [3, 4]
        assert applied.conversation.last_seq == 4

    async def test_apply_change_that_alters_nothing_takes_no_seq(self, store: Store) -> None:
        """A change to current values emits no event and leaves last_seq as it was."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        applied = await store.apply(
            org.id,
            conversation.id,
            plan_of(ConversationChange({"status": Status.BOT_ACTIVE, "epoch": 0})),
        )
        assert applied.events == ()
        assert applied.conversation.last_seq == 1
        assert await store.last_seq(conversation.id) == 1
        assert len(await store.read_events(conversation.id, 0, 10)) == 1
        following = await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        assert following.messages[0].seq == 2

    async def test_apply_empty_plan_changes_nothing(self, store: Store) -> None:
        """An empty plan stores nothing and returns the conversation as it is."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        applied = await store.apply(org.id, conversation.id, plan_of())
        assert (applied.events, applied.messages) == ((), ())
        assert applied.conversation == conversation
        assert await store.get_conversation(org.id, conversation.id) == conversation

    async def test_apply_refused_by_decide_writes_nothing(self, store: Store) -> None:
        """A GatewayError from decide propagates unchanged and nothing is written."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        refusal = GatewayError(ErrorCode.INVALID_STATE, "no")
        with pytest.raises(GatewayError) as info:
            await store.apply(org.id, conversation.id, refuse(refusal))
        assert info.value is refusal
        assert await store.last_seq(conversation.id) == 1
        assert len(await store.read_events(conversation.id, 0, 10)) == 1
        assert len(await store.list_messages(conversation.id, 0, 10)) == 1
        following = await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        assert following.messages[0].seq == 2

    async def test_apply_invalid_plan_writes_no_step(self, store: Store) -> None:
        """A plan whose later step is invalid raises RuntimeError and stores no earlier step."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        with pytest.raises(RuntimeError):
            await store.apply(
                org.id,
                conversation.id,
                plan_of(visitor_says(), ConversationChange({"org_id": "elsewhere"})),
            )
        assert await store.last_seq(conversation.id) == 0
        assert await store.list_messages(conversation.id, 0, 10) == []
        assert await store.get_conversation(org.id, conversation.id) == conversation

    async def test_apply_to_another_orgs_conversation_is_not_found(self, store: Store) -> None:
        """apply answers not_found for another org's conversation, as for an unknown id."""
        org, other = await add_org(store), await add_org(store)
        conversation = await add_conversation(store, org.id)
        await not_found(store.apply(other.id, conversation.id, plan_of(visitor_says())))
        await not_found(store.apply(org.id, new_id(), plan_of(visitor_says())))
        await not_found(
            store.apply(other.id, conversation.id, plan_of(visitor_says()), client_message_id="c")
        )
        assert await store.last_seq(conversation.id) == 0
        assert await store.list_messages(conversation.id, 0, 10) == []

    async def test_apply_replays_a_known_client_message_id(self, store: Store) -> None:
        """A second apply with the same client_message_id returns the original, writes nothing."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        first = await store.apply(
            org.id,
            conversation.id,
            plan_of(visitor_says("original", client_message_id="cm-1")),
            client_message_id="cm-1",
        )
        retry = await store.apply(
            org.id,
            conversation.id,
            plan_of(visitor_says("retry", client_message_id="cm-1")),
            client_message_id="cm-1",
        )
        assert retry.replayed == first.messages[0]
        assert (retry.events, retry.messages) == ((), ())
        assert retry.conversation.last_seq == 1
        assert await store.list_messages(conversation.id, 0, 10) == list(first.messages)

    async def test_apply_replay_checks_before_deciding(self, store: Store) -> None:
        """A replayed client_message_id returns the original even if decide would refuse."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        first = await store.apply(
            org.id,
            conversation.id,
            plan_of(visitor_says(client_message_id="cm-1")),
            client_message_id="cm-1",
        )
        retry = await store.apply(
            org.id,
            conversation.id,
            refuse(GatewayError(ErrorCode.INVALID_STATE, "closed since")),
            client_message_id="cm-1",
        )
        assert retry.replayed == first.messages[0]

    async def test_apply_client_message_id_is_per_conversation(self, store: Store) -> None:
        """The same client_message_id in another conversation is a new message."""
        org = await add_org(store)
        one = await add_conversation(store, org.id)
        two = await add_conversation(store, org.id)
        for conversation in (one, two):
            applied = await store.apply(
                org.id,
                conversation.id,
                plan_of(visitor_says(client_message_id="cm-1")),
                client_message_id="cm-1",
            )
            assert applied.replayed is None
            assert [m.seq for m in applied.messages] == [1]
        assert len(await store.list_messages(two.id, 0, 10)) == 1

    async def test_apply_concurrent_same_client_message_id_stores_one(self, store: Store) -> None:
        """20 concurrent applies with one client_message_id store exactly one message."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        results = await asyncio.gather(
            *(
                store.apply(
                    org.id,
                    conversation.id,
                    plan_of(visitor_says(f"try {i}", client_message_id="cm-1")),
                    client_message_id="cm-1",
                )
                for i in range(20)
            )
        )
        stored = await store.list_messages(conversation.id, 0, 100)
        assert len(stored) == 1
        written = [r for r in results if r.replayed is None]
        assert len(written) == 1
        assert written[0].messages == (stored[0],)
        assert all(r.replayed == stored[0] for r in results if r is not written[0])
        assert await store.last_seq(conversation.id) == 1

    async def test_apply_lifecycle_takeover_is_stored(self, store: Store) -> None:
        """An agent's first reply (gateway plan) stores change, marker and reply as seqs 1-3."""
        org = await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        conversation = await add_conversation(store, org.id, status=Status.AGENT_REQUESTED)
        at = now()
        reply = NewMessage(role=Role.AGENT, sender_id=agent.id, content="I'm here")
        applied = await store.apply(
            org.id,
            conversation.id,
            lambda c: plan_message(c, reply, epoch=0, at=at),
        )
        change, marker, answer = applied.events
        assert [e.seq for e in applied.events] == [1, 2, 3]
        assert isinstance(change, ConversationUpdated)
        assert change.changes["status"] == ["agent_requested", "open"]
        assert change.changes["epoch"] == [0, 1]
        assert marker.data["content"] == TAKEOVER_MARKER
        assert answer.data["content"] == "I'm here"
        stored = await store.get_conversation(org.id, conversation.id)
        assert stored is not None
        assert (stored.status, stored.handler, stored.epoch) == (Status.OPEN, Handler.AGENT, 1)
        assert (stored.assignee_id, stored.first_response_at) == (agent.id, at)
        with pytest.raises(GatewayError) as info:
            await store.apply(
                org.id,
                conversation.id,
                lambda c: plan_message(c, visitor_says(), epoch=0, at=now()),
            )
        assert info.value.code is ErrorCode.CONTROL_LOST

    async def test_apply_lifecycle_resolve_stores_diff(self, store: Store) -> None:
        """Resolving (gateway plan) stores status and resolved_at, visible in read_events."""
        org = await add_org(store)
        conversation = await add_conversation(
            store, org.id, status=Status.OPEN, handler=Handler.AGENT, epoch=1
        )
        at = now()
        applied = await store.apply(
            org.id,
            conversation.id,
            lambda c: plan_update(
                c, status=Status.RESOLVED, assignee=None, epoch=None, actor_agent_id=None, at=at
            ),
        )
        (event,) = await store.read_events(conversation.id, 0, 10)
        assert event == applied.events[0]
        assert isinstance(event, ConversationUpdated)
        assert event.changes == {
            "status": ["open", "resolved"],
            "resolved_at": [None, to_wire(applied.conversation)["resolved_at"]],
        }
        assert applied.conversation.resolved_at == at

    # -- monthly quota --------------------------------------------------------------------

    async def test_apply_counts_messages_against_the_monthly_limit(self, store: Store) -> None:
        """With a limit of 3, three messages are stored and the fourth is refused whole."""
        org = await add_org(store, monthly_message_limit=3)
        conversation = await add_conversation(store, org.id)
        for i in range(3):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
        error = await refuse_with(
            store.apply(org.id, conversation.id, plan_of(visitor_says("over")))
        )
        assert error.code is ErrorCode.QUOTA_EXCEEDED
        assert error.details == {"limit": 3, "used": 3}
        assert await store.last_seq(conversation.id) == 3
        month = f"{now().year:04d}-{now().month:02d}"
        assert await store.monthly_messages(org.id, month) == 3

    async def test_quota_ignores_system_messages_and_other_orgs(self, store: Store) -> None:
        """System markers are free; another org's messages count only for that org."""
        org = await add_org(store, monthly_message_limit=2)
        other = await add_org(store)
        mine = await add_conversation(store, org.id)
        theirs = await add_conversation(store, other.id)
        for i in range(5):
            await store.apply(other.id, theirs.id, plan_of(visitor_says(f"o{i}")))
        marker = NewMessage(role=Role.SYSTEM, sender_id=None, content="note")
        await store.apply(org.id, mine.id, plan_of(marker, visitor_says("a"), marker))
        await store.apply(org.id, mine.id, plan_of(visitor_says("b")))
        error = await refuse_with(store.apply(org.id, mine.id, plan_of(visitor_says("c"))))
        assert error.code is ErrorCode.QUOTA_EXCEEDED
        assert await store.apply(org.id, mine.id, plan_of(marker))

    async def test_quota_holds_under_concurrent_sends(self, store: Store) -> None:
        """30 concurrent sends over 3 conversations with a limit of 10: exactly 10 stored."""
        org = await add_org(store, monthly_message_limit=10)
        conversations = [await add_conversation(store, org.id) for _ in range(3)]

        async def send(i: int) -> bool:
            target = conversations[i % 3]
            try:
                await store.apply(org.id, target.id, plan_of(visitor_says(f"m{i}")))
            except GatewayError as exc:
                assert exc.code is ErrorCode.QUOTA_EXCEEDED
                return False
            return True

        results = await asyncio.gather(*(send(i) for i in range(30)))
        assert sum(results) == 10
        stored = [await store.last_seq(c.id) for c in conversations]
        assert sum(s or 0 for s in stored) == 10
