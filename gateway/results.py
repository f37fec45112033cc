"""What handlers return besides plain models; ``storage.models.to_wire`` renders them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.models import ApiKey, Contact, Conversation, Message, to_wire

__all__ = [
    "ConversationPage",
    "CreatedApiKey",
    "IssuedToken",
    "MessagePage",
    "ReadPosition",
    "Sent",
    "WidgetSession",
    "render",
]


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page (null: no more)."""

    data: list[Conversation]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MessagePage:
    """In seq order; pass ``next_after_seq`` as ``after_seq`` for the next page."""

    data: list[Message]
    has_more: bool
    next_after_seq: int


@dataclass(frozen=True, slots=True)
class Sent:
    """A stored message; ``replayed`` when ``client_message_id`` matched an earlier send."""

    message: Message
    conversation: Conversation
    replayed: bool


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WidgetSession:
    """A visitor's socket token and contact, for one widget."""

    token: str
    expires_at: datetime
    widget_id: str
    contact: Contact


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new API key; ``secret`` is shown this once and never again."""

    api_key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class ReadPosition:
    conversation_id: str
    seq: int


def render(result: Any) -> Any:
    """The JSON a client gets for a handler's result, on REST and on the socket alike."""
    if result is None:
        return {}
    if isinstance(result, Sent):
        return to_wire(result.message)
    return to_wire(result)
