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
    Article,
    Bot,
    Contact,
    Conversation,
    Delivery,
    DeliveryAttempt,
    Message,
    Passage,
    WebhookEndpoint,
    to_wire,
)

__all__ = [
    "AgentPresence",
    "BotView",
    "ArticlePage",
    "AccountView",
    "ContactView",
    "ConversationPage",
    "CreatedApiKey",
    "Deleted",
    "DeliveryDetail",
    "DeliveryPage",
    "DeliveryView",
    "IdentitySecret",
    "Invitation",
    "IssuedToken",
    "KnowledgeMatches",
    "MessagePage",
    "ReadPosition",
    "Replayed",
    "SearchMatch",
    "SearchPage",
    "SearchResult",
    "Sent",
    "Viewer",
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
class ContactView:
    """A contact as ``GET /v1/contacts/{contact_id}`` shows it (its org is the caller's)."""

    id: str
    external_id: str | None
    name: str | None
    email: str | None
    metadata: dict[str, Any]
    created_at: datetime
    widget_id: str | None

    @classmethod
    def of(cls, c: Contact) -> ContactView:
        return cls(c.id, c.external_id, c.name, c.email, c.metadata, c.created_at, c.widget_id)


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
class LlmView:
    """An ``llm`` bot's endpoint; its API key is never shown, only whether it has one."""

    #: None: the gateway's ``CHATGATE_LLM_BASE_URL``.
    base_url: str | None
    model: str
    system_prompt: str | None
    api_key_set: bool


@dataclass(frozen=True, slots=True)
class BotWebhookView:
    url: str


@dataclass(frozen=True, slots=True)
class BotView:
    """A bot as its org sees it; ``secret`` (a ``webhook`` bot's signing secret) only in the
    answer that created it (or gave it a new one), null otherwise."""

    id: str
    name: str
    kind: str
    confidence_threshold: float
    unknown_answer: str
    handoff_after: int
    handoff_phrases: tuple[str, ...]
    fallback_answer: str
    handoff_on_failure: bool
    timeout_seconds: int
    llm: LlmView | None
    webhook: BotWebhookView | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None

    @classmethod
    def of(cls, b: Bot, *, secret: bool = False) -> BotView:
        llm = None
        if b.llm is not None:
            llm = LlmView(
                b.llm.base_url, b.llm.model, b.llm.system_prompt, b.llm.api_key is not None
            )
        return cls(
            id=b.id,
            name=b.name,
            kind=b.kind,
            confidence_threshold=b.confidence_threshold,
            unknown_answer=b.unknown_answer,
            handoff_after=b.handoff_after,
            handoff_phrases=b.handoff_phrases,
            fallback_answer=b.fallback_answer,
            handoff_on_failure=b.handoff_on_failure,
            timeout_seconds=b.timeout_seconds,
            llm=llm,
            webhook=None if b.webhook is None else BotWebhookView(b.webhook.url),
            created_at=b.created_at,
            updated_at=b.updated_at,
            secret=b.webhook.secret if secret and b.webhook is not None else None,
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
class ArticlePage:
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page (null: no more)."""

    data: list[Article]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class KnowledgeMatches:
    """The passages a knowledge search found, best first; ``score`` is its confidence in
    [0, 1] (the share of the question's meaningful words the passage holds), which a bot
    compares with its ``confidence_threshold``."""

    data: list[Passage]


@dataclass(frozen=True, slots=True)
class Deleted:
    """A resource deleted for good."""

    id: str
    deleted: bool = True


@dataclass(frozen=True, slots=True)
class Replayed:
    """How many deliveries are due again."""

    replayed: int


@dataclass(frozen=True, slots=True)
class SearchMatch:
    """Why a conversation was found: its contact (``text``: name and email) or a message
    (``text``: its first 300 characters, ``seq``: the latest matching one; ``private`` for a
    private note)."""

    kind: str
    text: str
    seq: int | None
    private: bool


@dataclass(frozen=True, slots=True)
class SearchResult:
    conversation: Conversation
    match: SearchMatch


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Newest activity first; pass ``next_cursor`` as ``cursor`` for the next page (null:
    no more)."""

    data: list[SearchResult]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AgentPresence:
    """An agent and its presence: ``online``, ``away`` or ``offline``."""

    agent_id: str
    name: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """An agent that has a conversation open."""

    agent_id: str
    name: str | None


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
