"""The ``Store`` contract, conversations: reading, listing, events, messages, read positions.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Status
from storage.base import Store
from storage.models import (
    Conversation,
    ConversationChange,
    NewMessage,
    now,
)
from tests.contracts.rows import (
    add_conversation,
    add_org,
    agent_row,
    contact_row,
    conversation_row,
    new_id,
    plan_of,
    visitor_says,
    widget_row,
)

__all__ = ["ConversationContract"]


class ConversationContract:
    """Conversations and what is read back from them."""

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
