"""The ``Store`` contract: one suite every storage backend must pass.

Subclass ``StoreContract`` as ``Test<Backend>Store`` and provide an async fixture named
``store`` that yields a started, empty store. Only behaviour promised by ``storage.base.Store``
is tested here, never a backend's internals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from datetime import timedelta, timezone
from typing import Any

import pytest

from gateway.lifecycle import TAKEOVER_MARKER, plan_message, plan_update
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status
from storage.base import Store
from storage.models import (
    Conversation,
    ConversationChange,
    NewMessage,
    NodeLease,
    StoredFile,
    now,
    to_wire,
)
from tests.contracts.rows import (
    add_conversation,
    add_org,
    agent_row,
    api_key_row,
    contact_row,
    conversation_row,
    new_id,
    not_found,
    plan_of,
    refuse,
    refuse_with,
    visitor_says,
    widget_row,
)

__all__ = ["StoreContract"]

TTL = timedelta(hours=1)


class StoreContract:
    """Tests every ``Store`` must pass; subclasses provide the ``store`` fixture."""

    # -- lifecycle ------------------------------------------------------------------------

    async def test_store_ping_succeeds_when_started(self, store: Store) -> None:
        """ping returns quietly on a started store."""
        await store.ping()

    # -- gateway nodes --------------------------------------------------------------------

    async def test_register_node_returns_the_other_live_nodes(self, store: Store) -> None:
        """A registering node sees the others seen recently, not itself, not stale ones."""
        at = now()
        old = NodeLease("old", "h1", 1, "memory", at, at - timedelta(minutes=5))
        await store.register_node(old, at - timedelta(hours=1))
        first = NodeLease("a", "h1", 2, "redis", at, at)
        assert await store.register_node(first, at - timedelta(seconds=15)) == []
        second = NodeLease("b", "h2", 3, "redis", at, at)
        others = await store.register_node(second, at - timedelta(seconds=15))
        assert [n.id for n in others] == ["a"] and others[0].host == "h1"
        await store.heartbeat_node("old", at)
        again = await store.register_node(second, at - timedelta(seconds=15))
        assert sorted(n.id for n in again) == ["a", "old"]
        await store.remove_node("a")
        await store.remove_node("old")
        assert await store.register_node(second, at - timedelta(seconds=15)) == []

    async def test_register_node_is_atomic(self, store: Store) -> None:
        """Of nodes registering at the same time, every one but the first sees another."""
        at = now()
        nodes = [NodeLease(f"n{i}", "h", i, "memory", at, at) for i in range(8)]
        seen = await asyncio.gather(
            *(store.register_node(n, at - timedelta(seconds=15)) for n in nodes)
        )
        assert sorted(len(s) for s in seen) == list(range(8))

    # -- settings -------------------------------------------------------------------------

    async def test_setting_keeps_first_value(self, store: Store) -> None:
        """get_or_create_setting stores the first value and returns it on every later call."""
        assert await store.get_or_create_setting("secret", "first") == "first"
        assert await store.get_or_create_setting("secret", "second") == "first"
        assert await store.get_or_create_setting("other", "x") == "x"

    async def test_setting_concurrent_creators_agree(self, store: Store) -> None:
        """20 concurrent get_or_create_setting calls with different values all get one value."""
        values = await asyncio.gather(
            *(store.get_or_create_setting("secret", f"value-{i}") for i in range(20))
        )
        assert len(set(values)) == 1
        assert values[0] in {f"value-{i}" for i in range(20)}
        assert await store.get_or_create_setting("secret", "late") == values[0]

    # -- orgs and api keys ----------------------------------------------------------------

    async def test_org_count_counts_created_orgs(self, store: Store) -> None:
        """count_orgs is 0 on an empty store and grows with create_org."""
        assert await store.count_orgs() == 0
        await add_org(store)
        await add_org(store, name="Globex", monthly_message_limit=1000)
        assert await store.count_orgs() == 2

    async def test_org_list_holds_every_org_oldest_first(self, store: Store) -> None:
        """list_orgs is empty on an empty store, then returns every org, oldest first."""
        assert await store.list_orgs() == []
        first = await add_org(store, created_at=now() - timedelta(minutes=1))
        second = await add_org(store, name="Globex", monthly_message_limit=1000)
        assert await store.list_orgs() == [first, second]

    async def test_api_key_is_found_by_hash_until_revoked(self, store: Store) -> None:
        """find_api_key returns the key for its hash, and None once it is revoked."""
        org = await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        assert await store.find_api_key("hash-1") == key
        assert await store.find_api_key("hash-2") is None
        await store.revoke_api_key(org.id, key.id, now())
        assert await store.find_api_key("hash-1") is None

    async def test_api_key_revoke_is_idempotent(self, store: Store) -> None:
        """Revoking twice returns the key both times, with the first revocation time."""
        org = await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        first_at = now()
        revoked = await store.revoke_api_key(org.id, key.id, first_at)
        assert revoked == dataclasses.replace(key, revoked_at=first_at)
        again = await store.revoke_api_key(org.id, key.id, first_at + timedelta(minutes=5))
        assert again == revoked
        assert await store.list_api_keys(org.id) == [revoked]

    async def test_api_key_revoke_of_another_org_is_none(self, store: Store) -> None:
        """Another org cannot revoke a key: None, as for an unknown id, and the key still works."""
        org, other = await add_org(store), await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        assert await store.revoke_api_key(other.id, key.id, now()) is None
        assert await store.revoke_api_key(org.id, new_id(), now()) is None
        assert await store.find_api_key("hash-1") == key

    async def test_api_key_list_holds_the_orgs_keys_only(self, store: Store) -> None:
        """list_api_keys returns every key of the org, revoked ones included, and no other."""
        org, other = await add_org(store), await add_org(store)
        keys = [api_key_row(org.id, name=f"k{i}") for i in range(3)]
        for i, key in enumerate(keys):
            await store.create_api_key(key, f"hash-{i}")
        await store.create_api_key(api_key_row(other.id), "hash-other")
        revoked = await store.revoke_api_key(org.id, keys[0].id, now())
        assert revoked is not None
        listed = await store.list_api_keys(org.id)
        assert sorted(listed, key=lambda k: k.id) == sorted(
            [revoked, keys[1], keys[2]], key=lambda k: k.id
        )
        assert await store.list_api_keys(new_id()) == []

    # -- widgets, agents, contacts --------------------------------------------------------

    async def test_widget_round_trips(self, store: Store) -> None:
        """A created widget reads back equal, with its org or without one (any org)."""
        org = await add_org(store)
        widget = widget_row(
            org.id,
            allowed_origins=("https://a.example", "https://b.example"),
            messages_per_minute=30,
            live_agent_endpoint_url="https://live.example/hook",
            bot_settings={"greeting": "Hi!", "model": {"name": "small", "temperature": 0.2}},
        )
        await store.create_widget(widget)
        assert await store.get_widget(org.id, widget.id) == widget
        assert await store.get_widget(None, widget.id) == widget
        assert await store.get_widget(None, new_id()) is None
        assert await store.list_widgets(org.id) == [widget]

    async def test_widget_of_another_org_is_invisible(self, store: Store) -> None:
        """Another org's widget is None / empty / unchanged, exactly like an unknown id."""
        org, other = await add_org(store), await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        assert await store.get_widget(other.id, widget.id) is None
        assert await store.get_widget(org.id, new_id()) is None
        assert await store.list_widgets(other.id) == []
        assert await store.update_widget(other.id, widget.id, {"name": "Hijacked"}) is None
        assert await store.update_widget(org.id, new_id(), {"name": "Ghost"}) is None
        assert await store.get_widget(org.id, widget.id) == widget

    async def test_widget_update_changes_given_fields_only(self, store: Store) -> None:
        """update_widget returns the widget with the given fields changed and stores it."""
        org = await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        updates: dict[str, Any] = {
            "name": "Sales",
            "allowed_origins": ("https://sales.example",),
            "messages_per_minute": 5,
            "live_agent_endpoint_url": "https://live.example",
            "bot_settings": {"greeting": "Hello"},
        }
        updated = await store.update_widget(org.id, widget.id, updates)
        assert updated == dataclasses.replace(widget, **updates)
        assert await store.get_widget(org.id, widget.id) == updated
        assert await store.update_widget(org.id, widget.id, {"name": "Again"}) == (
            dataclasses.replace(updated, name="Again")
        )

    async def test_agent_of_another_org_is_invisible(self, store: Store) -> None:
        """get_agent/list_agents find an org's agents and nothing from another org."""
        org, other = await add_org(store), await add_org(store)
        agents = [agent_row(org.id, name=f"Agent {i}") for i in range(2)]
        for agent in agents:
            await store.create_agent(agent)
        await store.create_agent(agent_row(other.id, email=None))
        assert await store.get_agent(org.id, agents[0].id) == agents[0]
        assert await store.get_agent(other.id, agents[0].id) is None
        assert await store.get_agent(org.id, new_id()) is None
        assert sorted(await store.list_agents(org.id), key=lambda a: a.id) == sorted(
            agents, key=lambda a: a.id
        )
        assert len(await store.list_agents(other.id)) == 1
        assert await store.list_agents(new_id()) == []

    async def test_contact_round_trips(self, store: Store) -> None:
        """A new contact is stored as given and readable in its org only."""
        org, other = await add_org(store), await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        contact = contact_row(
            org.id,
            widget_id=widget.id,
            external_id="crm-42",
            email="vera@example.com",
            metadata={"plan": "pro", "tags": ["vip"], "visits": 3},
        )
        assert await store.get_or_create_contact(contact) == contact
        assert await store.get_contact(org.id, contact.id) == contact
        assert await store.get_contact(other.id, contact.id) is None
        assert await store.get_contact(org.id, new_id()) is None

    async def test_contact_with_known_external_id_returns_existing(self, store: Store) -> None:
        """get_or_create_contact with an external_id known in the org returns that contact."""
        org = await add_org(store)
        first = await store.get_or_create_contact(contact_row(org.id, external_id="crm-1"))
        second = await store.get_or_create_contact(
            contact_row(org.id, external_id="crm-1", name="Someone else")
        )
        assert second == first
        assert await store.get_contact(org.id, first.id) == first

    async def test_contact_external_id_is_per_org(self, store: Store) -> None:
        """The same external_id in another org creates a distinct contact there."""
        org, other = await add_org(store), await add_org(store)
        mine = await store.get_or_create_contact(contact_row(org.id, external_id="crm-1"))
        theirs_row = contact_row(other.id, external_id="crm-1")
        theirs = await store.get_or_create_contact(theirs_row)
        assert theirs == theirs_row
        assert theirs.id != mine.id
        assert await store.get_contact(other.id, theirs.id) == theirs

    async def test_contact_without_external_id_is_always_new(self, store: Store) -> None:
        """Contacts without external_id are never merged, even with identical fields."""
        org = await add_org(store)
        rows = [contact_row(org.id, name="Anon") for _ in range(3)]
        stored = [await store.get_or_create_contact(row) for row in rows]
        assert stored == rows
        for row in rows:
            assert await store.get_contact(org.id, row.id) == row

    # -- conversations --------------------------------------------------------------------

    async def test_conversation_round_trips_every_field(self, store: Store) -> None:
        """get_conversation returns exactly what create_conversation stored."""
        org = await add_org(store)
        widget, agent = widget_row(org.id), agent_row(org.id)
        await store.create_widget(widget)
        await store.create_agent(agent)
        contact = await store.get_or_create_contact(contact_row(org.id, widget_id=widget.id))
        at = now()
        conversation = conversation_row(
            org.id,
            widget_id=widget.id,
            contact_id=contact.id,
            status=Status.OPEN,
            handler=Handler.LIVE_AGENT,
            epoch=3,
            assignee_id=agent.id,
            created_at=at - timedelta(hours=2),
            updated_at=at,
            resolved_at=at - timedelta(minutes=50, milliseconds=7),
            ended_at=at - timedelta(minutes=40, milliseconds=999),
            live_agent_handoff_at=at - timedelta(minutes=30, milliseconds=1),
            first_response_at=at - timedelta(minutes=20),
            metadata={"page": "/pricing", "n": 1, "nested": {"a": [1, None]}, "é": "✓"},
        )
        await store.create_conversation(conversation)
        assert await store.get_conversation(org.id, conversation.id) == conversation

    async def test_conversation_timestamps_keep_their_instant_in_any_zone(
        self, store: Store
    ) -> None:
        """A timestamp given with a non-UTC offset reads back as the same instant."""
        org = await add_org(store)
        zone = timezone(timedelta(hours=2))
        at = now().astimezone(zone)
        conversation = await add_conversation(store, org.id, created_at=at, updated_at=at)
        stored = await store.get_conversation(org.id, conversation.id)
        assert stored is not None
        assert stored.created_at == at
        assert stored.updated_at == at

    async def test_conversation_of_another_org_is_invisible(self, store: Store) -> None:
        """get/list_conversations never show another org's conversation."""
        org, other = await add_org(store), await add_org(store)
        conversation = await add_conversation(store, org.id)
        assert await store.get_conversation(other.id, conversation.id) is None
        assert await store.get_conversation(org.id, new_id()) is None
        assert await store.list_conversations(other.id) == []
        assert await store.list_conversations(org.id) == [conversation]

    async def test_conversation_list_is_newest_first(self, store: Store) -> None:
        """list_conversations orders by created_at, newest first."""
        org = await add_org(store)
        at = now()
        created = [
            await add_conversation(store, org.id, created_at=at + timedelta(seconds=i))
            for i in (2, 0, 3, 1)
        ]
        listed = await store.list_conversations(org.id)
        assert listed == sorted(created, key=lambda c: c.created_at, reverse=True)

    async def test_conversation_list_filters_by_status_and_contact(self, store: Store) -> None:
        """status and contact_id filters keep only matching conversations."""
        org = await add_org(store)
        alice = await store.get_or_create_contact(contact_row(org.id))
        bob = await store.get_or_create_contact(contact_row(org.id))
        a_open = await add_conversation(store, org.id, contact_id=alice.id, status=Status.OPEN)
        a_bot = await add_conversation(store, org.id, contact_id=alice.id)
        b_open = await add_conversation(store, org.id, contact_id=bob.id, status=Status.OPEN)

        def ids(rows: list[Conversation]) -> set[str]:
            return {c.id for c in rows}

        opened = await store.list_conversations(org.id, status=Status.OPEN.value)
        assert ids(opened) == {a_open.id, b_open.id}
        assert ids(await store.list_conversations(org.id, contact_id=alice.id)) == {
            a_open.id,
            a_bot.id,
        }
        both = await store.list_conversations(
            org.id, status=Status.BOT_ACTIVE.value, contact_id=alice.id
        )
        assert both == [a_bot]
        assert await store.list_conversations(org.id, status=Status.ARCHIVED.value) == []
        assert await store.list_conversations(org.id, contact_id=new_id()) == []

    async def test_conversation_list_pages_cover_every_row_once(self, store: Store) -> None:
        """Paging with before=(created_at, id) of the last row visits each row exactly once,
        in (created_at, id) descending order, even when rows share a created_at."""
        org, other = await add_org(store), await add_org(store)
        at = now()
        created = [
            await add_conversation(store, org.id, created_at=at + timedelta(milliseconds=i // 3))
            for i in range(11)
        ]
        await add_conversation(store, other.id, created_at=at)
        expected = sorted(created, key=lambda c: (c.created_at, c.id), reverse=True)
        seen: list[Conversation] = []
        before = None
        while True:
            page = await store.list_conversations(org.id, before=before, limit=2)
            assert len(page) <= 2
            if not page:
                break
            seen.extend(page)
            before = (page[-1].created_at, page[-1].id)
        assert seen == expected

    async def test_conversation_list_honours_limit(self, store: Store) -> None:
        """limit caps the page; the default returns up to 50 rows."""
        org = await add_org(store)
        for _ in range(5):
            await add_conversation(store, org.id)
        assert len(await store.list_conversations(org.id, limit=3)) == 3
        assert len(await store.list_conversations(org.id)) == 5

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

    # -- events and messages --------------------------------------------------------------

    async def _mixed_history(self, store: Store) -> tuple[Conversation, list[Any]]:
        """A conversation with events: msg, change, msg, msg, change, msg (seqs 1-6)."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        steps: list[tuple[NewMessage | ConversationChange, ...]] = [
            (visitor_says("m1"),),
            (ConversationChange({"status": Status.AGENT_REQUESTED}), visitor_says("m3")),
            (visitor_says("m4"),),
            (
                ConversationChange({"status": Status.OPEN, "handler": Handler.AGENT, "epoch": 1}),
                visitor_says("m6"),
            ),
        ]
        events: list[Any] = []
        for plan in steps:
            applied = await store.apply(org.id, conversation.id, plan_of(*plan))
            events.extend(applied.events)
        return conversation, events

    async def test_read_events_returns_events_after_seq_in_order(self, store: Store) -> None:
        """read_events returns every stored event with seq > after_seq, in seq order."""
        conversation, published = await self._mixed_history(store)
        events = await store.read_events(conversation.id, 0, 100)
        assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
        assert [type(e) for e in events] == [
            MessageCreated,
            ConversationUpdated,
            MessageCreated,
            MessageCreated,
            ConversationUpdated,
            MessageCreated,
        ]
        assert events == published
        assert await store.read_events(conversation.id, 3, 100) == published[3:]
        assert await store.read_events(conversation.id, 6, 100) == []

    async def test_read_events_honours_limit(self, store: Store) -> None:
        """read_events returns at most limit events, the lowest seqs first."""
        conversation, published = await self._mixed_history(store)
        assert await store.read_events(conversation.id, 0, 2) == published[:2]
        assert await store.read_events(conversation.id, 1, 3) == published[1:4]
        assert await store.read_events(conversation.id, 4, 1) == published[4:5]

    async def test_read_events_change_carries_snapshot_and_diff(self, store: Store) -> None:
        """A stored conversation.updated carries the conversation at its seq and the diff."""
        conversation, _ = await self._mixed_history(store)
        change = (await store.read_events(conversation.id, 4, 1))[0]
        assert isinstance(change, ConversationUpdated)
        assert change.name == "conversation.updated"
        assert change.data["changes"] == {
            "status": ["agent_requested", "open"],
            "handler": ["bot", "agent"],
            "epoch": [0, 1],
        }
        snapshot = change.data["conversation"]
        assert snapshot["id"] == conversation.id
        assert snapshot["last_seq"] == 5
        assert (snapshot["status"], snapshot["handler"], snapshot["epoch"]) == ("open", "agent", 1)

    async def test_read_events_of_unknown_conversation_is_empty(self, store: Store) -> None:
        """read_events and list_messages of an unknown conversation return nothing."""
        assert await store.read_events(new_id(), 0, 10) == []
        assert await store.list_messages(new_id(), 0, 10) == []

    async def test_list_messages_returns_only_messages_in_seq_order(self, store: Store) -> None:
        """list_messages skips changes, honours after_seq and limit, in seq order."""
        conversation, _ = await self._mixed_history(store)
        messages = await store.list_messages(conversation.id, 0, 100)
        assert [(m.seq, m.content) for m in messages] == [
            (1, "m1"),
            (3, "m3"),
            (4, "m4"),
            (6, "m6"),
        ]
        assert [m.seq for m in await store.list_messages(conversation.id, 1, 2)] == [3, 4]
        assert await store.list_messages(conversation.id, 6, 10) == []

    async def test_last_seq_of_unknown_conversation_is_none(self, store: Store) -> None:
        """last_seq is 0 for a new conversation and None for an unknown one."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        assert await store.last_seq(conversation.id) == 0
        assert await store.last_seq(new_id()) is None

    # -- read positions -------------------------------------------------------------------

    async def test_mark_read_never_moves_backwards(self, store: Store) -> None:
        """mark_read returns the stored position, which only ever moves forward."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        for i in range(5):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
        assert await store.mark_read(conversation.id, "agent:a1", 3, now()) == 3
        assert await store.mark_read(conversation.id, "agent:a1", 1, now()) == 3
        assert await store.mark_read(conversation.id, "agent:a1", 3, now()) == 3
        assert await store.mark_read(conversation.id, "agent:a1", 5, now()) == 5

    async def test_mark_read_is_per_reader(self, store: Store) -> None:
        """Each reader has its own position."""
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        for i in range(4):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
        assert await store.mark_read(conversation.id, "agent:a1", 4, now()) == 4
        assert await store.mark_read(conversation.id, "visitor:v1", 2, now()) == 2

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

    # -- files ----------------------------------------------------------------------------

    async def test_put_file_stores_each_content_once_per_org(self, store: Store) -> None:
        """The same bytes stored twice keep the first copy; another org has its own."""
        org, other = await add_org(store), await add_org(store)
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        sha = hashlib.sha256(data).hexdigest()
        first = await store.put_file(StoredFile(org.id, sha, "image/png", len(data), now()), data)
        again = await store.put_file(
            StoredFile(org.id, sha, "image/png", len(data), now() + timedelta(seconds=5)), data
        )
        assert again == first and first.size == len(data) and first.sha256 == sha
        assert await store.get_file(org.id, sha) == first
        read = await store.read_file(org.id, sha)
        assert read == (first, data)
        assert await store.get_file(other.id, sha) is None
        assert await store.read_file(other.id, sha) is None
        theirs = await store.put_file(
            StoredFile(other.id, sha, "image/png", len(data), now()), data
        )
        assert theirs.org_id == other.id
        assert await store.get_org(org.id) is not None
        assert await store.get_org(new_id()) is None

    # -- idempotency ----------------------------------------------------------------------

    async def test_idempotency_claim_is_free_once_then_running(self, store: Store) -> None:
        """The first claim owns the key (None); the next sees the running record."""
        at = now()
        assert await store.claim_idempotency_key("s", "k", "h1", at, TTL) is None
        record = await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        assert record is not None
        assert (record.request_hash, record.status, record.created_at) == ("h1", None, at)
        assert await store.get_idempotency_key("s", "k") == record

    async def test_idempotency_finished_record_replays_response(self, store: Store) -> None:
        """After finish, a claim returns the stored status, headers and body."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        headers = {"content-type": "application/json", "location": "/v1/x"}
        body = b'{"id": "x"}\x00\xff'
        await store.finish_idempotency_key("s", "k", 201, headers, body)
        record = await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        assert record is not None
        assert (record.status, dict(record.headers), record.body) == (201, headers, body)
        assert record.request_hash == "h1"
        assert await store.get_idempotency_key("s", "k") == record

    async def test_idempotency_other_request_hash_is_visible(self, store: Store) -> None:
        """A claim with another request hash gets the record with the first hash."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        record = await store.claim_idempotency_key("s", "k", "h2", at, TTL)
        assert record is not None
        assert record.request_hash == "h1"

    async def test_idempotency_keys_are_scoped(self, store: Store) -> None:
        """The same key in another scope is a different key."""
        at = now()
        assert await store.claim_idempotency_key("s1", "k", "h1", at, TTL) is None
        assert await store.claim_idempotency_key("s2", "k", "h1", at, TTL) is None
        assert await store.claim_idempotency_key("s1", "k2", "h1", at, TTL) is None

    async def test_idempotency_release_frees_the_key(self, store: Store) -> None:
        """After release the key is unknown and the next claim owns it again."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        await store.release_idempotency_key("s", "k")
        assert await store.get_idempotency_key("s", "k") is None
        assert await store.claim_idempotency_key("s", "k", "h2", at, TTL) is None
        record = await store.get_idempotency_key("s", "k")
        assert record is not None and record.request_hash == "h2"

    async def test_idempotency_expired_record_is_reclaimed(self, store: Store) -> None:
        """A record older than ttl is replaced: the claim owns the key again."""
        old = now() - timedelta(hours=2)
        await store.claim_idempotency_key("s", "k", "h1", old, TTL)
        await store.finish_idempotency_key("s", "k", 200, {}, b"old")
        at = now()
        assert await store.claim_idempotency_key("s", "k", "h2", at, TTL) is None
        record = await store.get_idempotency_key("s", "k")
        assert record is not None
        assert (record.request_hash, record.status, record.created_at) == ("h2", None, at)

    async def test_idempotency_fresh_record_is_not_reclaimed(self, store: Store) -> None:
        """A record younger than ttl is returned, not replaced."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at - timedelta(minutes=59), TTL)
        record = await store.claim_idempotency_key("s", "k", "h2", at, TTL)
        assert record is not None and record.request_hash == "h1"

    async def test_idempotency_concurrent_claims_have_one_owner(self, store: Store) -> None:
        """Of 20 concurrent claims of one key, exactly one owns it."""
        at = now()
        results = await asyncio.gather(
            *(store.claim_idempotency_key("s", "k", f"h{i}", at, TTL) for i in range(20))
        )
        assert sum(r is None for r in results) == 1
        assert len({r.request_hash for r in results if r is not None}) == 1

    async def test_idempotency_purge_deletes_older_records_only(self, store: Store) -> None:
        """purge removes records created before the cutoff and returns how many."""
        at = now()
        await store.claim_idempotency_key("s", "old-1", "h", at - timedelta(hours=3), TTL)
        await store.claim_idempotency_key("s", "old-2", "h", at - timedelta(hours=2), TTL)
        await store.finish_idempotency_key("s", "old-2", 200, {}, b"")
        await store.claim_idempotency_key("s", "new", "h", at, TTL)
        assert await store.purge_idempotency_keys(at - timedelta(hours=1)) == 2
        assert await store.get_idempotency_key("s", "old-1") is None
        assert await store.get_idempotency_key("s", "old-2") is None
        assert await store.get_idempotency_key("s", "new") is not None
        assert await store.purge_idempotency_keys(at - timedelta(hours=1)) == 0

    async def test_idempotency_unknown_key_is_none(self, store: Store) -> None:
        """get_idempotency_key of a never claimed key is None."""
        assert await store.get_idempotency_key("s", "nope") is None
