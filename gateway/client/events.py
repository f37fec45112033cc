"""Events as the client hands them out: one frozen dataclass per kind.

``NewMessage`` and ``ConversationUpdated`` are stored events: each carries its conversation's
``seq``, and the client hands them out once each, in seq order. The others are volatile
(``Typing``, ``Read``, ``MessageDelta``) or org-wide (``ConversationCreated``, inbox only) and
are handed out as they come. An event this client does not know is an ``UnknownEvent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from gateway.client.types import Conversation, JSONObject, Message

__all__ = [
    "ConversationCreated",
    "ConversationUpdated",
    "Event",
    "MessageDelta",
    "NewMessage",
    "Read",
    "Typing",
    "UnknownEvent",
    "event_frame",
    "parse_event",
]


@dataclass(frozen=True, slots=True)
class NewMessage:
    conversation_id: str
    seq: int
    message: Message


@dataclass(frozen=True, slots=True)
class ConversationUpdated:
    """``changes`` maps each changed field to ``[before, after]``."""

    conversation_id: str
    seq: int
    conversation: Conversation
    changes: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class ConversationCreated:
    conversation_id: str
    conversation: Conversation


@dataclass(frozen=True, slots=True)
class Typing:
    conversation_id: str
    on: bool
    role: str
    sender_id: str | None


@dataclass(frozen=True, slots=True)
class Read:
    conversation_id: str
    seq: int
    role: str
    reader_id: str | None


@dataclass(frozen=True, slots=True)
class MessageDelta:
    """A piece of a bot's streamed answer (volatile). The answer is stored as the
    ``NewMessage`` whose ``message["id"] == message_id``; ``done`` with a ``reason``
    (``control_lost``, ``failed``) says it never will be: drop what you showed."""

    conversation_id: str
    message_id: str
    index: int
    text: str
    done: bool = False
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    name: str
    conversation_id: str | None
    seq: int | None
    data: JSONObject


Event = (
    NewMessage
    | ConversationUpdated
    | ConversationCreated
    | Typing
    | Read
    | MessageDelta
    | UnknownEvent
)


def parse_event(frame: JSONObject) -> Event:
    """An ``{"op": "event", ...}`` frame as its dataclass (``UnknownEvent`` if unknown or
    not shaped as documented)."""
    name = str(frame.get("event"))
    cid = frame.get("conversation_id")
    seq = frame.get("seq")
    data = frame.get("data")
    if not isinstance(data, dict) or not isinstance(cid, str):
        return UnknownEvent(name, cid if isinstance(cid, str) else None, _int(seq), {})
    try:
        if name == "new_message" and isinstance(seq, int):
            return NewMessage(cid, seq, cast(Message, data))
        if name == "conversation.updated" and isinstance(seq, int):
            changes = data.get("changes") or {}
            return ConversationUpdated(cid, seq, data["conversation"], changes)
        if name == "conversation.created":
            return ConversationCreated(cid, data["conversation"])
        if name == "typing":
            return Typing(cid, bool(data["on"]), str(data["role"]), data.get("sender_id"))
        if name == "read":
            return Read(cid, int(data["seq"]), str(data["role"]), data.get("reader_id"))
        if name == "message.delta":
            return MessageDelta(
                cid,
                str(data["message_id"]),
                int(data["index"]),
                str(data["text"]),
                bool(data.get("done", False)),
                data.get("reason"),
            )
    except (KeyError, TypeError, ValueError):
        pass
    return UnknownEvent(name, cid, _int(seq), data)


def event_frame(message: Message) -> JSONObject:
    """The ``new_message`` frame a stored message was (for a reply or a backfilled page)."""
    return {
        "op": "event",
        "event": "new_message",
        "conversation_id": message["conversation_id"],
        "seq": message["seq"],
        "data": message,
    }


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
