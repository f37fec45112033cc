"""Events and their server frames, in both codecs."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from protocol import events
from protocol.events import (
    ConversationCreated,
    ConversationUpdated,
    EventName,
    MessageCreated,
    MessageDelta,
    PresenceChanged,
    ReadMarked,
    TypingChanged,
    ViewingChanged,
    to_frame,
)
from tests.protocol.samples import AGENT, CODECS, CONVERSATION

MESSAGE = {"id": "m1", "seq": 7, "role": "visitor", "content": "hi", "attachments": []}
CONVERSATION_WIRE = {"id": CONVERSATION, "status": "open", "assignee_id": None, "epoch": 2}

EVENTS = [
    pytest.param(
        MessageCreated(conversation_id=CONVERSATION, seq=7, message=MESSAGE),
        {
            "op": "event",
            "event": "new_message",
            "conversation_id": CONVERSATION,
            "seq": 7,
            "data": MESSAGE,
        },
        id="message-created",
    ),
    pytest.param(
        ConversationUpdated(
            conversation_id=CONVERSATION,
            seq=8,
            conversation=CONVERSATION_WIRE,
            changes={"status": ["bot_active", "open"], "assignee_id": [None, AGENT]},
        ),
        {
            "op": "event",
            "event": "conversation.updated",
            "conversation_id": CONVERSATION,
            "seq": 8,
            "data": {
                "conversation": CONVERSATION_WIRE,
                "changes": {"status": ["bot_active", "open"], "assignee_id": [None, AGENT]},
            },
        },
        id="conversation-updated",
    ),
    pytest.param(
        ConversationCreated(conversation_id=CONVERSATION, conversation=CONVERSATION_WIRE),
        {
            "op": "event",
            "event": "conversation.created",
            "conversation_id": CONVERSATION,
            "seq": 0,
            "data": {"conversation": CONVERSATION_WIRE},
        },
        id="conversation-created",
    ),
    pytest.param(
        TypingChanged(conversation_id=CONVERSATION, on=True, role="agent", sender_id=AGENT),
        {
            "op": "event",
            "event": "typing",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {"on": True, "role": "agent", "sender_id": AGENT},
        },
        id="typing-changed",
    ),
    pytest.param(
        TypingChanged(conversation_id=CONVERSATION, on=False, role="visitor", sender_id=None),
        {
            "op": "event",
            "event": "typing",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {"on": False, "role": "visitor", "sender_id": None},
        },
        id="typing-stopped-anonymous",
    ),
    pytest.param(
        ReadMarked(conversation_id=CONVERSATION, read_seq=12, role="agent", reader_id=AGENT),
        {
            "op": "event",
            "event": "read",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {"seq": 12, "role": "agent", "reader_id": AGENT},
        },
        id="read-marked",
    ),
    pytest.param(
        MessageDelta(conversation_id=CONVERSATION, message_id="m-1", index=3, text=" there"),
        {
            "op": "event",
            "event": "message.delta",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {"message_id": "m-1", "index": 3, "text": " there"},
        },
        id="message-delta",
    ),
    pytest.param(
        TypingChanged(
            conversation_id=CONVERSATION,
            on=True,
            role="agent",
            sender_id=AGENT,
            agent_id=AGENT,
            agent_name="Ana",
        ),
        {
            "op": "event",
            "event": "typing",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {
                "on": True,
                "role": "agent",
                "sender_id": AGENT,
                "agent_id": AGENT,
                "name": "Ana",
            },
        },
        id="typing-agent-for-staff",
    ),
    pytest.param(
        ViewingChanged(conversation_id=CONVERSATION, agent_id=AGENT, agent_name="Ana", on=True),
        {
            "op": "event",
            "event": "viewing",
            "conversation_id": CONVERSATION,
            "seq": None,
            "data": {"agent_id": AGENT, "name": "Ana", "on": True},
        },
        id="viewing",
    ),
    pytest.param(
        PresenceChanged(agent_id=AGENT, status="away"),
        {
            "op": "event",
            "event": "presence",
            "conversation_id": None,
            "seq": None,
            "data": {"agent_id": AGENT, "status": "away"},
        },
        id="presence",
    ),
]


def test_events_table_covers_every_event_class():
    """The frame table has a case for every class in the Event union."""
    assert {type(case.values[0]) for case in EVENTS} == set(typing.get_args(events.Event))


@pytest.mark.parametrize(("event", "frame"), EVENTS)
def test_to_frame_shape(event, frame):
    """Each event becomes its documented server frame."""
    assert to_frame(event) == frame


@CODECS
@pytest.mark.parametrize(("event", "frame"), EVENTS)
def test_to_frame_round_trips_through_codec(codec, event, frame):
    """Each event frame comes back unchanged through either codec."""
    assert codec.decode(codec.encode(to_frame(event))) == frame


@pytest.mark.parametrize(("event", "frame"), EVENTS)
def test_to_frame_event_name_is_a_plain_string(event, frame):
    """The frame's event name is a plain str, not the enum."""
    assert type(to_frame(event)["event"]) is str


def test_conversation_created_has_seq_zero():
    """conversation.created always carries seq 0, and seq is not a constructor field."""
    assert ConversationCreated(conversation_id=CONVERSATION, conversation={}).seq == 0
    with pytest.raises(TypeError):
        ConversationCreated(conversation_id=CONVERSATION, conversation={}, seq=5)  # type: ignore[call-arg]


def test_volatile_events_have_no_seq():
    """typing and read are never stored, so their seq is None."""
    typing_event = TypingChanged(conversation_id=CONVERSATION, on=True, role="bot", sender_id=None)
    read = ReadMarked(conversation_id=CONVERSATION, read_seq=3, role="visitor", reader_id=None)
    assert (typing_event.seq, read.seq) == (None, None)


def test_read_marked_puts_read_position_in_data():
    """A read event's position lives in data.seq while the frame's seq stays null."""
    frame = to_frame(ReadMarked(CONVERSATION, read_seq=41, role="agent", reader_id=AGENT))
    assert (frame["seq"], frame["data"]["seq"]) == (None, 41)


def test_message_created_data_is_the_message():
    """A new_message frame's data is the message's wire form itself."""
    event = MessageCreated(CONVERSATION, 7, MESSAGE)
    assert event.data is MESSAGE


def test_event_names_are_wire_strings():
    """Event names keep their wire spelling."""
    assert [name.value for name in EventName] == [
        "new_message",
        "conversation.created",
        "conversation.updated",
        "typing",
        "read",
        "message.delta",
        "viewing",
        "presence",
    ]


def test_events_cannot_be_changed():
    """Events are frozen."""
    event = MessageCreated(CONVERSATION, 7, MESSAGE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 8  # type: ignore[misc]


@CODECS
def test_joined_event_frames_decode_to_the_list(codec):
    """A batch of event frames joined by the codec decodes to those frames in order."""
    frames = [to_frame(typing.cast(events.Event, case.values[0])) for case in EVENTS] * 4
    joined = codec.join([codec.encode(frame) for frame in frames])
    assert codec.decode(joined) == frames


def test_message_delta_is_volatile_and_terminal_only_with_a_reason():
    """A delta carries no seq; only a terminal one (with a reason) says done."""
    piece = MessageDelta(CONVERSATION, "m-1", 0, "Hel")
    assert piece.seq is None
    assert to_frame(piece) == {
        "op": "event",
        "event": "message.delta",
        "conversation_id": CONVERSATION,
        "seq": None,
        "data": {"message_id": "m-1", "index": 0, "text": "Hel"},
    }
    end = MessageDelta(CONVERSATION, "m-1", 2, "", reason="control_lost")
    assert end.data == {
        "message_id": "m-1",
        "index": 2,
        "text": "",
        "done": True,
        "reason": "control_lost",
    }
