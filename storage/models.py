"""Rows as frozen dataclasses, and what a conversation change looks like before it is stored.

Field names are the native wire names: ``to_wire(model)`` is the JSON object the REST API
and the events carry (timestamps in the one wire form of ``protocol.encoding.format_instant``,
``2025-12-10T19:27:02.941Z``; ids as strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from protocol.encoding import format_instant
from protocol.events import ConversationUpdated, MessageCreated
from protocol.states import Handler, Role, Status

__all__ = [
    "AccountToken",
    "Agent",
    "AgentLogin",
    "AgentSession",
    "ApiKey",
    "Applied",
    "Bot",
    "BotLlm",
    "BotWebhook",
    "Article",
    "ConversationChange",
    "Contact",
    "Conversation",
    "CredentialStanding",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryOutcome",
    "IdempotencyRecord",
    "Message",
    "NewMessage",
    "SearchHit",
    "NodeLease",
    "Org",
    "OutboxItem",
    "Passage",
    "Plan",
    "StoredFile",
    "WebhookEndpoint",
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
    """The JSON object of a model (or the JSON value of a field's value), as clients see it.

    Timestamps become ``format_instant`` text; msgspec's own form would drop the fraction on
    a whole second and print microseconds otherwise.
    """
    builtins = msgspec.to_builtins(model, builtin_types=(datetime,))
    return _instants_as_text(builtins)  # type: ignore[no-any-return]


def _instants_as_text(value: Any) -> Any:
    # ``to_builtins`` builds fresh containers, so they are rewritten in place.
    if type(value) is dict:
        for key, item in value.items():
            if type(item) in _CONTAINERS:
                value[key] = _instants_as_text(item)
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) in _CONTAINERS:
                value[i] = _instants_as_text(item)
    elif isinstance(value, datetime):
        return format_instant(value)
    return value


#: What ``_instants_as_text`` looks into (or rewrites); every other value is left as it is.
_CONTAINERS = frozenset({dict, list, datetime})


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
    #: Seconds a conversation waits in ``agent_requested`` for a human of the org before it
    #: is handed to the live-agent platform (0: at once).
    live_agent_escalate_after: int = 0
    #: Seconds the live-agent platform has to answer a handed-off conversation.
    live_agent_timeout: int = 300
    #: What happens when the platform never answers: ``team`` (stays waiting for the org's
    #: agents) or ``bot`` (back to the bot).
    live_agent_fallback: str = "team"
    #: ``whsec_...``: signs what chatgate sends to ``live_agent_endpoint_url``.
    live_agent_secret: str | None = None
    #: The look and texts its org chose (``protocol.commands.Appearance`` fields); a field
    #: that is not here takes its default.
    appearance: JSONObject = field(default_factory=dict)
    #: Every widget session must prove who the visitor is (``user_hash``).
    identity_required: bool = False
    #: Whether the widget has an identity secret. Read only (``create_widget`` ignores it):
    #: the secret is set with ``update_widget`` and read with ``get_widget_identity_secret``,
    #: so that it is never part of a widget anyone renders.
    identity_secret_set: bool = False
    #: The bot that answers first in the widget's conversations (None: no automatic answers).
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class BotLlm:
    """Where an ``llm`` bot asks: an OpenAI-compatible chat-completions endpoint."""

    #: None: the gateway's ``llm_base_url`` setting.
    base_url: str | None
    model: str
    system_prompt: str | None = None
    #: Never rendered (``api_key_set``); None: the gateway's ``llm_api_key`` setting.
    api_key: str | None = None


@dataclass(frozen=True, slots=True)
class BotWebhook:
    """Where a ``webhook`` bot hears of visitor messages, and the secret signing them."""

    url: str
    #: ``whsec_...``; shown once, when the bot (or its webhook) is created.
    secret: str


@dataclass(frozen=True, slots=True)
class Bot:
    """An org's first responder: ``knowledge`` (the org's knowledge base), ``llm`` (an
    OpenAI-compatible endpoint, ``llm``) or ``webhook`` (an outside service, ``webhook``)."""

    id: str
    org_id: str
    name: str
    kind: str
    #: Answers scoring below it are ``Unsure``: the bot says ``unknown_answer`` instead.
    confidence_threshold: float
    unknown_answer: str
    #: Unsure answers in a row after which the bot hands off (0: never).
    handoff_after: int
    #: A visitor message containing one of these (whole words, any case) asks for a human.
    handoff_phrases: tuple[str, ...]
    #: What the visitor reads when the bot fails or is too slow.
    fallback_answer: str
    handoff_on_failure: bool
    timeout_seconds: int
    created_at: datetime
    updated_at: datetime
    llm: BotLlm | None = None
    webhook: BotWebhook | None = None


@dataclass(frozen=True, slots=True)
class Agent:
    """A human team member. A ``disabled`` agent keeps its history but cannot sign in: its
    tokens are refused and no new ones are issued. Deleted agents are never returned."""

    id: str
    org_id: str
    name: str
    email: str | None
    created_at: datetime
    #: ``active`` or ``disabled``.
    status: str = "active"
    #: ``admin`` (administers the org) or ``agent`` (conversations); docs/dashboard.md.
    role: str = "agent"


@dataclass(frozen=True, slots=True)
class AgentLogin:
    """An agent found by its sign-in email, with what checks its password (None: it has
    none yet)."""

    agent: Agent
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class AccountToken:
    """A one-time link: an invitation (``purpose`` ``invitation``: ``email``, ``role``,
    ``name``) or a password reset (``reset``: ``agent_id``). Only the SHA-256 of its token
    is stored."""

    token_hash: str
    purpose: str
    org_id: str
    created_at: datetime
    expires_at: datetime
    email: str | None = None
    role: str | None = None
    name: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class AgentSession:
    """A sign-in session of an agent (the cookie holds its token; only its SHA-256 is
    stored)."""

    id: str
    token_hash: str
    agent_id: str
    org_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialStanding:
    """Where some API keys and agents stand, as ``Store.credential_standing`` read them."""

    #: The unrevoked API keys among those asked about (unknown ids are not in it).
    live_api_keys: frozenset[str]
    #: The status (``active``, ``disabled``) of each agent asked about that exists; deleted
    #: and unknown agents are not in it.
    agents: Mapping[str, str]


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
    #: How agent messages reach the visitor: ``widget`` (the socket) or ``api`` (the org's
    #: channel endpoints, as signed HTTP deliveries).
    channel: str = "widget"
    #: The bot that answers first, recorded when the conversation starts (from its widget,
    #: or given); None: no automatic answers.
    bot_id: str | None = None


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
    #: A private note: staff only (never visitors, bots, channels or live-agent platforms).
    private: bool = False


# -- changes ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append; the store gives it the next seq, a timestamp and, unless ``id``
    is given (a bot's streamed answer, announced under its id before it is stored), an id.

    ``created_at``, when given, is the message's own time (a live-agent platform's, say)
    instead of the time of storage; the order of the conversation stays that of ``seq``.
    """

    role: Role
    sender_id: str | None
    content: str
    attachments: tuple[JSONObject, ...] = ()
    metadata: JSONObject = field(default_factory=dict)
    client_message_id: str | None = None
    id: str | None = None
    created_at: datetime | None = None
    private: bool = False


@dataclass(frozen=True, slots=True)
class ConversationChange:
    """New values for conversation fields; stored as one ``conversation.updated`` event.

    Only fields whose value really changes end up in the event's diff; a change that alters
    nothing takes no seq.
    """

    updates: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one command does to a conversation, in order; each step takes the next seq.

    ``outbox`` holds deliveries to write in the same transaction, besides those the store
    derives from the events themselves (webhooks, live-agent forwarding).
    """

    steps: tuple[NewMessage | ConversationChange, ...]
    outbox: tuple[OutboxItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Applied:
    """The outcome of ``Store.apply``.

    ``events`` are what to publish, in seq order. ``replayed`` is set (and ``events`` empty)
    when the command was a retry of an already stored ``client_message_id``. ``outbox`` says
    whether the change may have put rows in the outbox (webhooks, live-agent messages, bot
    turns, timers): only then has the outbox dispatcher anything new to claim.
    """

    conversation: Conversation
    events: tuple[MessageCreated | ConversationUpdated, ...]
    messages: tuple[Message, ...]
    replayed: Message | None = None
    outbox: bool = True


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A conversation found by a search, and why: its contact (``kind="contact"``: ``text``
    is the contact's name and email) or a message (``kind="message"``: its text and seq,
    the latest that matches; ``private`` for a private note)."""

    conversation: Conversation
    kind: str
    text: str
    seq: int | None = None
    private: bool = False


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


# -- webhooks and the outbox --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    """Where an org's events (``kind="events"``) or its ``api``-channel conversations'
    outgoing messages (``kind="channel"``) are delivered, signed with ``secrets``."""

    id: str
    org_id: str
    url: str
    kind: str
    description: str
    #: Event types delivered; empty: every type.
    event_types: tuple[str, ...]
    #: ``whsec_...`` secrets, newest first; each is ``(secret, expires_at)`` and older ones
    #: expire after a rotation's grace period.
    secrets: tuple[tuple[str, datetime | None], ...]
    #: Deliver one conversation's events to this endpoint one at a time, in order.
    fifo: bool
    #: ``active``, ``paused`` (kept failing; deliveries wait) or ``disabled`` (nothing sent
    #: or recorded).
    status: str
    paused_reason: str | None
    #: When the current run of failed attempts began (None after a success).
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A row to add to the outbox: a signed HTTP delivery or a timer.

    ``target``: ``endpoint`` (a ``WebhookEndpoint``), ``live_agent`` (a widget's
    live-agent platform), ``bot`` (a ``webhook`` bot: ``bot_id``) or ``timer`` (work for
    the gateway itself when ``due_at`` comes).
    Items with the same ``fifo_key`` are attempted one at a time, in the order written.
    """

    message_id: str
    org_id: str
    target: str
    event_type: str
    payload: JSONObject
    due_at: datetime
    endpoint_id: str | None = None
    widget_id: str | None = None
    conversation_id: str | None = None
    seq: int | None = None
    fifo_key: str | None = None
    #: The webhook bot a ``bot`` row goes to (kept as the row's ``receiver``).
    bot_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row. When claimed, ``url`` and ``secrets`` are the target's current ones."""

    id: str
    message_id: str
    org_id: str
    target: str
    event_type: str
    payload: bytes
    endpoint_id: str | None
    widget_id: str | None
    conversation_id: str | None
    seq: int | None
    #: ``pending``, ``delivered``, ``dead`` (every attempt failed) or ``cancelled``.
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    #: Rows with one key are sent one at a time, in order (a FIFO endpoint's conversation,
    #: a live-agent thread).
    fifo_key: str | None = None
    url: str | None = None
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    delivery_id: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How an attempt ended: ``delivered``, ``retry`` (again at ``retry_at``) or ``dead``."""

    result: str
    #: None for a timer, which is run rather than sent.
    attempt: DeliveryAttempt | None
    retry_at: datetime | None = None
    #: When the delivery went dead: pause its endpoint with this reason if the endpoint
    #: has not had one success since it began failing.
    pause_reason: str | None = None

    @property
    def status(self) -> str:
        """The delivery's status after this outcome (``pending`` again for a retry)."""
        return "pending" if self.result == "retry" else self.result


# -- knowledge base -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Article:
    """A knowledge-base article: Markdown ``body``, given through the API (``source="api"``)
    or imported from the page at ``url`` (``source="import"``)."""

    id: str
    org_id: str
    title: str
    body: str
    url: str | None
    source: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage of an article that a knowledge search found.

    ``score`` is the search's confidence in [0, 1], the same for the same data on every
    store: the share of the question's meaningful terms that the passage (its text, its
    heading or its article's title) contains (``storage.relevance``).
    """

    article_id: str
    title: str
    url: str | None
    text: str
    score: float
