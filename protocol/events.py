"""Events: what happened to a conversation, named in the past tense.

Each event becomes one server frame::

    {"op": "event", "event": "new_message", "conversation_id": "...", "seq": 7, "data": {...}}

``seq`` numbers the conversation's event log: every stored change (a message, a status
change) takes the next one, starting at 1, with no gaps. ``conversation.created`` carries
seq 0. Volatile events (``typing``, ``read``, ``viewing``, ``presence``,
``message.delta``) are never stored and carry ``seq: null``; ``presence`` belongs to no
conversation (``conversation_id: null``).

Audiences: staff (agents, API keys) see everything; a visitor never sees a private note's
``new_message``, a ``viewing``, or the ``agent_id`` and ``name`` of an agent's ``typing``
(``gateway.realtime.push``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "ConversationCreated",
    "ConversationUpdated",
    "Event",
    "EventName",
    "MessageCreated",
    "MessageDelta",
    "PresenceChanged",
    "ReadMarked",
    "TypingChanged",
    "ViewingChanged",
    "to_frame",
]

JSONObject = dict[str, Any]


class EventName(StrEnum):
    NEW_MESSAGE = "new_message"
    CONVERSATION_CREATED = "conversation.created"
    CONVERSATION_UPDATED = "conversation.updated"
    TYPING = "typing"
    READ = "read"
    MESSAGE_DELTA = "message.delta"
    VIEWING = "viewing"
    PRESENCE = "presence"


@dataclass(frozen=True, slots=True)
class MessageCreated:
    """A message was stored; ``message`` is its wire form."""

    name: ClassVar[EventName] = EventName.NEW_MESSAGE
    conversation_id: str
    seq: int
    message: JSONObject

    @property
    def data(self) -> JSONObject:
        return self.message


@dataclass(frozen=True, slots=True)
class ConversationUpdated:
    """Fields of a conversation changed; ``changes`` maps each field to ``[from, to]``."""

    name: ClassVar[EventName] = EventName.CONVERSATION_UPDATED
    conversation_id: str
    seq: int
    conversation: JSONObject
    changes: JSONObject

    @property
    def data(self) -> JSONObject:
        return {"conversation": self.conversation, "changes": self.changes}


@dataclass(frozen=True, slots=True)
class ConversationCreated:
    name: ClassVar[EventName] = EventName.CONVERSATION_CREATED
    conversation_id: str
    conversation: JSONObject
    seq: ClassVar[int] = 0

    @property
    def data(self) -> JSONObject:
        return {"conversation": self.conversation}


@dataclass(frozen=True, slots=True)
class TypingChanged:
    """Someone started or stopped typing. An agent's carries ``agent_id`` and ``name`` too,
    which only staff sockets receive."""

    name: ClassVar[EventName] = EventName.TYPING
    conversation_id: str
    on: bool
    role: str
    sender_id: str | None
    agent_id: str | None = None
    agent_name: str | None = None
    seq: ClassVar[None] = None

    @property
    def data(self) -> JSONObject:
        data: JSONObject = {"on": self.on, "role": self.role, "sender_id": self.sender_id}
        if self.agent_id is not None:
            data["agent_id"] = self.agent_id
            data["name"] = self.agent_name
        return data


@dataclass(frozen=True, slots=True)
class ViewingChanged:
    """An agent opened (``on``) or left a conversation; staff sockets only."""

    name: ClassVar[EventName] = EventName.VIEWING
    conversation_id: str
    agent_id: str
    agent_name: str | None
    on: bool
    seq: ClassVar[None] = None

    @property
    def data(self) -> JSONObject:
        return {"agent_id": self.agent_id, "name": self.agent_name, "on": self.on}


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """An agent's presence (``online``, ``away``, ``offline``) changed; to the inbox room."""

    name: ClassVar[EventName] = EventName.PRESENCE
    agent_id: str
    status: str
    conversation_id: ClassVar[None] = None
    seq: ClassVar[None] = None

    @property
    def data(self) -> JSONObject:
        return {"agent_id": self.agent_id, "status": self.status}


@dataclass(frozen=True, slots=True)
class ReadMarked:
    """A participant has read up to ``read_seq``."""

    name: ClassVar[EventName] = EventName.READ
    conversation_id: str
    read_seq: int
    role: str
    reader_id: str | None
    seq: ClassVar[None] = None

    @property
    def data(self) -> JSONObject:
        return {"seq": self.read_seq, "role": self.role, "reader_id": self.reader_id}


@dataclass(frozen=True, slots=True)
class MessageDelta:
    """The next piece of a bot's answer as it streams, before it is stored.

    ``message_id`` is the id the whole answer will be stored under (its ``new_message`` ends
    the stream); ``index`` counts the pieces from 0. A terminal delta (``done``, with
    ``reason`` ``control_lost`` or ``failed``) says the answer will not be stored: drop it.
    """

    name: ClassVar[EventName] = EventName.MESSAGE_DELTA
    conversation_id: str
    message_id: str
    index: int
    text: str
    #: Why the answer ends unstored (``control_lost``, ``failed``); None while it streams.
    reason: str | None = None
    seq: ClassVar[None] = None

    @property
    def data(self) -> JSONObject:
        data: JSONObject = {"message_id": self.message_id, "index": self.index, "text": self.text}
        if self.reason is not None:
            data.update(done=True, reason=self.reason)
        return data


Event = (
    MessageCreated
    | ConversationUpdated
    | ConversationCreated
    | TypingChanged
    | ReadMarked
    | MessageDelta
    | ViewingChanged
    | PresenceChanged
)


def to_frame(event: Event) -> JSONObject:
    """The server frame of an event."""
    return {
        "op": "event",
        "event": event.name.value,
        "conversation_id": event.conversation_id,
        "seq": event.seq,
        "data": event.data,
    }
