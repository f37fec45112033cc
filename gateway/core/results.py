"""What handlers return besides plain models; ``storage.models.to_wire`` renders them all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from gateway.core.appearance import Look
from storage.models import (
    Agent,
    ApiKey,
    Contact,
    Conversation,
    Delivery,
    DeliveryAttempt,
    Message,
    WebhookEndpoint,
    to_wire,
)

__all__ = [
    "AccountView",
    "ConversationPage",
    "CreatedApiKey",
    "Deleted",
    "DeliveryDetail",
    "DeliveryPage",
    "DeliveryView",
    "IdentitySecret",
    "Invitation",
    "IssuedToken",
    "MessagePage",
    "ReadPosition",
    "Replayed",
    "ResetLink",
    "Sent",
    "SignedOut",
    "WebhookView",
    "WidgetConfig",
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
class WidgetConfig:
    """What a widget's script needs to show itself, and nothing secret."""

    widget_id: str
    appearance: Look
    #: Sessions must carry ``external_id`` and ``user_hash``.
    identity_required: bool


@dataclass(frozen=True, slots=True)
class IdentitySecret:
    """A widget's new identity secret, shown this once."""

    widget_id: str
    identity_secret: str


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new API key; ``secret`` is shown this once and never again."""

    api_key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class ReadPosition:
    conversation_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class WebhookView:
    """A webhook endpoint as its org sees it; ``secret`` only when just created or rotated."""

    id: str
    url: str
    kind: str
    description: str
    event_types: tuple[str, ...]
    fifo: bool
    status: str
    paused_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None

    @classmethod
    def of(cls, e: WebhookEndpoint, *, secret: bool = False) -> WebhookView:
        return cls(
            id=e.id,
            url=e.url,
            kind=e.kind,
            description=e.description,
            event_types=e.event_types,
            fifo=e.fifo,
            status=e.status,
            paused_reason=e.paused_reason,
            failing_since=e.failing_since,
            created_at=e.created_at,
            updated_at=e.updated_at,
            secret=e.secrets[0][0] if secret else None,
        )


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One event for one endpoint; ``webhook_id`` is the ``webhook-id`` header it carries."""

    id: str
    webhook_id: str
    event_type: str
    conversation_id: str | None
    seq: int | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, Any]

    @classmethod
    def of(cls, d: Delivery) -> DeliveryView:
        return cls(
            id=d.id,
            webhook_id=d.message_id,
            event_type=d.event_type,
            conversation_id=d.conversation_id,
            seq=d.seq,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_at,
            finished_at=d.finished_at,
            payload=orjson.loads(d.payload),
        )


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    """Newest first; pass ``next_after`` as ``after`` for the next page (null: no more)."""

    data: list[DeliveryView]
    next_after: str | None


@dataclass(frozen=True, slots=True)
class DeliveryDetail:
    delivery: DeliveryView
    attempts: list[DeliveryAttempt]


@dataclass(frozen=True, slots=True)
class Deleted:
    """A resource deleted for good."""

    id: str
    deleted: bool = True


@dataclass(frozen=True, slots=True)
class Replayed:
    """How many deliveries are due again."""

    replayed: int


def render(result: Any) -> Any:
    """The JSON a client gets for a handler's result, on REST and on the socket alike."""
    if result is None:
        return {}
    if isinstance(result, Sent):
        return to_wire(result.message)
    return to_wire(result)


@dataclass(frozen=True, slots=True)
class Invitation:
    """A one-time invitation link (the token is in its fragment, and given alone too)."""

    invitation_url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ResetLink:
    """A one-time link to set a new password (the token is in its fragment, and alone)."""

    reset_url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AccountView:
    """The signed-in agent, and the CSRF token its changes must send (``X-CSRF-Token``; null
    for a bearer credential, which needs none). ``expires_at``: the session's end."""

    agent: Agent
    csrf_token: str | None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SignedOut:
    """``all``: every session of the agent ended, not only this one."""

    all: bool
