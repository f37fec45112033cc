"""Rows as frozen dataclasses, and what a conversation change looks like before it is stored.

Field names are the native wire names: ``to_wire(model)`` is the JSON object the REST API
and the events carry (timestamps as RFC 3339 UTC strings, ids as strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status

__all__ = [
    "Agent",
    "ApiKey",
    "Applied",
    "ConversationChange",
    "Contact",
    "Conversation",
    "IdempotencyRecord",
    "Message",
    "NewMessage",
    "NodeLease",
    "Org",
    "Plan",
    "StoredFile",
    "Widget",
    "now",
    "to_wire",
]

JSONObject = dict[str, Any]


def now() -> datetime:
    """The current UTC time, truncated to milliseconds (what the wire and the DB keep)."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def to_wire(model: Any) -> JSONObject:
    """The JSON object of a model, as clients see it."""
    return msgspec.to_builtins(model)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    monthly_message_limit: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key's public part; the secret is shown once and only its hash is stored."""

    id: str
    org_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Widget:
    id: str
    org_id: str
    name: str
    allowed_origins: tuple[str, ...]
    messages_per_minute: int | None
    live_agent_endpoint_url: str | None
    created_at: datetime
    bot_settings: JSONObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    org_id: str
    name: str
    email: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    org_id: str
    widget_id: str | None
    external_id: str | None
    name: str | None
    email: str | None
    metadata: JSONObject
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    org_id: str
    widget_id: str | None
    contact_id: str | None
    status: Status
    handler: Handler
    epoch: int
    assignee_id: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    ended_at: datetime | None
    live_agent_handoff_at: datetime | None
    first_response_at: datetime | None
    last_seq: int
    metadata: JSONObject


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    role: Role
    sender_id: str | None
    content: str
    attachments: tuple[JSONObject, ...]
    metadata: JSONObject
    client_message_id: str | None
    created_at: datetime


# -- changes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append; the store gives it an id, the next seq and a timestamp."""

    role: Role
    sender_id: str | None
    content: str
    attachments: tuple[JSONObject, ...] = ()
    metadata: JSONObject = field(default_factory=dict)
    client_message_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """New values for conversation fields; stored as one ``conversation.updated`` event.

    Only fields whose value really changes end up in the event's diff; a change that alters
    nothing takes no seq.
    """

    updates: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one command does to a conversation, in order; each step takes the next seq."""

    steps: tuple[NewMessage | ConversationChange, ...]


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of ``Store.apply``.

    ``events`` are what to publish, in seq order. ``replayed`` is set (and ``events`` empty)
    when the command was a retry of an already stored ``client_message_id``.
    """

    conversation: Conversation
    events: tuple[MessageCreated | ConversationUpdated, ...]
    messages: tuple[Message, ...]
    replayed: Message | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A stored ``Idempotency-Key``; ``status`` is None while the first request runs."""

    request_hash: str
    status: int | None
    headers: Mapping[str, str]
    body: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file of an org, addressed by the sha-256 of its bytes (stored once per org)."""

    org_id: str
    sha256: str
    mime: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NodeLease:
    """A gateway process using the database; live while ``seen_at`` is recent."""

    id: str
    host: str
    pid: int
    #: ``memory`` (reaches this process only) or ``redis``.
    broker: str
    started_at: datetime
    seen_at: datetime
