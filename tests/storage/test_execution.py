"""storage.execution.execute: how a plan becomes rows and events (pure, no I/O)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import pytest

from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status
from storage.execution import execute
from storage.models import Conversation, ConversationChange, NewMessage, Plan, now, to_wire
from tests.contracts.rows import conversation_row

AT = now()
EARLIER = AT - timedelta(minutes=5)


def conversation(**fields: object) -> Conversation:
    return conversation_row("org-1", created_at=EARLIER, updated_at=EARLIER, **fields)


def says(content: str, **fields: Any) -> NewMessage:
    return NewMessage(role=Role.VISITOR, sender_id="v1", content=content, **fields)


def test_execute_gives_steps_consecutive_seqs_after_last_seq() -> None:
    """Messages and changes, mixed, take last_seq + 1, + 2, ... in plan order."""
    conv = conversation(last_seq=7)
    plan = Plan(
        (
            says("a"),
            ConversationChange({"status": Status.AGENT_REQUESTED}),
            says("b"),
            ConversationChange({"assignee_id": "agent-1"}),
            says("c"),
        )
    )
    done = execute(conv, plan, AT)
    assert [e.seq for e in done.events] == [8, 9, 10, 11, 12]
    assert [type(e) for e in done.events] == [
        MessageCreated,
        ConversationUpdated,
        MessageCreated,
        ConversationUpdated,
        MessageCreated,
    ]
    assert [m.seq for m in done.messages] == [8, 10, 12]
    assert [seq for seq, _ in done.changes] == [9, 11]
    assert done.conversation.last_seq == 12


def test_execute_builds_message_rows_from_the_plan() -> None:
    """Each new message gets a fresh uuid, the conversation id and the given timestamp."""
    conv = conversation()
    attachments = ({"url": "https://cdn.example/a.png", "mime": "image/png"},)
    plan = Plan(
        (
            says("a", attachments=attachments, metadata={"k": 1}, client_message_id="cm"),
            says("b"),
        )
    )
    first, second = execute(conv, plan, AT).messages
    assert len({uuid.UUID(first.id), uuid.UUID(second.id)}) == 2
    assert (first.conversation_id, first.created_at) == (conv.id, AT)
    assert (first.role, first.sender_id, first.content) == (Role.VISITOR, "v1", "a")
    assert (first.attachments, first.metadata, first.client_message_id) == (
        attachments,
        {"k": 1},
        "cm",
    )
    assert second.client_message_id is None


def test_execute_message_event_carries_the_wire_message() -> None:
    """A message moves last_seq and updated_at; its event data is the message's wire form."""
    conv = conversation()
    done = execute(conv, Plan((says("hi"),)), AT)
    assert done.conversation == dataclasses.replace(conv, last_seq=1, updated_at=AT)
    (event,) = done.events
    assert isinstance(event, MessageCreated)
    assert (event.conversation_id, event.seq) == (done.conversation.id, 1)
    assert event.data == to_wire(done.messages[0])
    assert event.data["created_at"] == to_wire(AT)
    assert isinstance(event.data["created_at"], str)
    assert event.data["role"] == "visitor"


def test_execute_change_that_alters_nothing_takes_no_seq() -> None:
    """A change to the current values emits no event, no change row, and keeps updated_at."""
    conv = conversation(last_seq=3, status=Status.OPEN, epoch=2)
    done = execute(
        conv, Plan((ConversationChange({"status": Status.OPEN, "epoch": 2}), says("x"))), AT
    )
    assert done.changes == ()
    assert [e.seq for e in done.events] == [4]
    only_noop = execute(conv, Plan((ConversationChange({"assignee_id": None}),)), AT)
    assert (only_noop.events, only_noop.changes, only_noop.messages) == ((), (), ())
    assert only_noop.conversation == conv


def test_execute_empty_plan_returns_the_conversation_unchanged() -> None:
    """An empty plan changes nothing."""
    conv = conversation(last_seq=2)
    done = execute(conv, Plan(()), AT)
    assert done.conversation == conv
    assert (done.messages, done.changes, done.events) == ((), (), ())


def test_execute_diff_holds_only_changed_fields_as_wire_pairs() -> None:
    """The diff maps each changed field to [old, new] wire values; unchanged ones are left out."""
    conv = conversation(status=Status.AGENT_REQUESTED, assignee_id="agent-1")
    change = ConversationChange(
        {
            "status": Status.OPEN,
            "handler": Handler.AGENT,
            "epoch": 1,
            "assignee_id": "agent-1",
            "first_response_at": AT,
            "metadata": {"tier": "gold"},
        }
    )
    (event,) = execute(conv, Plan((change,)), AT).events
    assert isinstance(event, ConversationUpdated)
    assert event.changes == {
        "status": ["agent_requested", "open"],
        "handler": ["bot", "agent"],
        "epoch": [0, 1],
        "first_response_at": [None, to_wire(AT)],
        "metadata": [{}, {"tier": "gold"}],
    }
    assert isinstance(event.changes["first_response_at"][1], str)


def test_execute_diff_renders_old_datetimes_as_strings() -> None:
    """Clearing a timestamp diffs [old timestamp string, None]."""
    conv = conversation(status=Status.RESOLVED, resolved_at=EARLIER)
    change = ConversationChange({"status": Status.OPEN, "resolved_at": None})
    (event,) = execute(conv, Plan((change,)), AT).events
    assert isinstance(event, ConversationUpdated)
    assert event.changes == {
        "status": ["resolved", "open"],
        "resolved_at": [to_wire(EARLIER), None],
    }
    assert isinstance(event.changes["resolved_at"][0], str)


def test_execute_change_snapshot_is_the_conversation_at_its_seq() -> None:
    """A change's snapshot has the new values, updated_at = at and last_seq = the event seq."""
    conv = conversation(last_seq=4)
    plan = Plan((ConversationChange({"status": Status.CLOSED, "ended_at": AT}), says("bye")))
    done = execute(conv, plan, AT)
    change = done.events[0]
    assert isinstance(change, ConversationUpdated)
    assert change.seq == 5
    assert change.conversation["last_seq"] == change.seq
    assert change.conversation["status"] == "closed"
    assert change.conversation["ended_at"] == to_wire(AT)
    assert change.conversation["updated_at"] == to_wire(AT)
    assert done.changes == ((5, change.data),)
    assert done.conversation.last_seq == 6


def test_execute_final_conversation_has_every_change() -> None:
    """The returned conversation carries all updates, the last seq and updated_at = at."""
    conv = conversation()
    plan = Plan(
        (
            ConversationChange({"status": Status.AGENT_REQUESTED}),
            ConversationChange({"status": Status.OPEN, "handler": Handler.LIVE_AGENT}),
            ConversationChange({"live_agent_handoff_at": AT}),
        )
    )
    done = execute(conv, plan, AT)
    assert done.conversation == dataclasses.replace(
        conv,
        status=Status.OPEN,
        handler=Handler.LIVE_AGENT,
        live_agent_handoff_at=AT,
        last_seq=3,
        updated_at=AT,
    )
    second = done.events[1]
    assert isinstance(second, ConversationUpdated)
    assert second.changes == {
        "status": ["agent_requested", "open"],
        "handler": ["bot", "live_agent"],
    }


def test_execute_leaves_its_input_untouched() -> None:
    """execute is pure: the conversation passed in is not modified."""
    conv = conversation()
    copy = dataclasses.replace(conv)
    execute(conv, Plan((ConversationChange({"status": Status.CLOSED}), says("x"))), AT)
    assert conv == copy


@pytest.mark.parametrize("field", ["id", "org_id", "last_seq", "created_at", "updated_at", "nope"])
def test_execute_unknown_field_raises_runtime_error(field: str) -> None:
    """A change to a field a plan may not touch raises RuntimeError naming it."""
    with pytest.raises(RuntimeError, match=f"'{field}'"):
        execute(conversation(), Plan((says("x"), ConversationChange({field: "v"}))), AT)
