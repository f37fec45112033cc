"""Commands: what a client asks the gateway to do, whatever the transport.

A REST request, a socket frame and a vendor-dialect request all become one of these frozen
dataclasses and go through the same command bus. Each class is also the validation schema for
its input: ``validation.parse(SendMessage, payload)`` checks types strictly (no coercion, a
bool is not an int) and the OpenAPI document is generated from the same classes.

Ids are UUIDs; ``UNSET`` marks a field the client did not send (distinct from ``null``).
``metadata`` is bounded by ``protocol.bounds``; origins and URLs follow ``protocol.urls``. A
list of settings (``allowed_origins``, ``event_types``) may not name one value twice.

A rule that spans fields (``__post_init__``) is also written as JSON Schema in the class's
``schema_rules``, which the OpenAPI and AsyncAPI documents add to the class's schema, so the
documents state what validation enforces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Final, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol import urls
from protocol.bounds import Metadata
from protocol.states import Role, Status
from protocol.validation import PATTERN_NAMES, Invalid

__all__ = [
    "Attachment",
    "Command",
    "ContactInput",
    "CreateAgent",
    "CreateApiKey",
    "CreateWebhook",
    "CreateWidget",
    "DeleteAgent",
    "DeleteWebhook",
    "EndConversation",
    "GetAgent",
    "GetConversation",
    "GetFile",
    "GetWebhook",
    "GetWebhookDelivery",
    "GetWidget",
    "IssueToken",
    "ListAgents",
    "ListApiKeys",
    "ListConversations",
    "ListMessages",
    "ListWebhookDeliveries",
    "ListWebhooks",
    "ListWidgets",
    "MarkRead",
    "OpenWidgetSession",
    "ReadEvents",
    "ReplayWebhookDeliveries",
    "ReplayWebhookDelivery",
    "RevokeApiKey",
    "RotateWebhookSecret",
    "SendMessage",
    "SetTyping",
    "StartConversation",
    "StoreUpload",
    "UpdateAgent",
    "UpdateConversation",
    "UpdateWebhook",
    "UpdateWidget",
    "WatchConversation",
    "WatchInbox",
]

MAX_CONTENT_CHARS = 20_000
MAX_ATTACHMENTS = 10
MAX_SEQ = 2**53 - 1

Content = Annotated[str, Meta(max_length=MAX_CONTENT_CHARS)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(max_length=200)]
ClientMessageId = Annotated[str, Meta(min_length=1, max_length=128)]
Seq = Annotated[int, Meta(ge=0, le=MAX_SEQ)]
PageSize = Annotated[int, Meta(ge=1, le=200)]
END = urls.END
Url = Annotated[str, Meta(max_length=2048, pattern=urls.URL)]
#: An attachment: an http(s) URL, or a gateway-relative file URL as uploads answer it.
AttachmentUrl = Annotated[
    str, Meta(max_length=2048, pattern=rf"(?:{urls.URL})|(?:^/v1/files/[0-9a-f]{{64}}{END})")
]
Channel = Literal["widget", "api"]
Fallback = Literal["team", "bot"]
AgentStatus = Literal["active", "disabled"]
Seconds = Annotated[int, Meta(ge=0, le=7 * 86400)]
WebhookEventType = Literal[
    "conversation.created",
    "conversation.updated",
    "conversation.escalated",
    "conversation.taken_over",
    "conversation.resolved",
    "conversation.ended",
    "message.created",
]
DeliveryStatus = Literal["pending", "delivered", "dead", "cancelled"]
Origin = Annotated[str, Meta(min_length=1, max_length=300, pattern=urls.ORIGIN)]
Origins = Annotated[
    tuple[Origin, ...],
    Meta(
        max_length=50,
        extra_json_schema={"uniqueItems": True, "description": "Each origin once, in any case."},
    ),
]
EventTypes = Annotated[
    tuple[WebhookEventType, ...], Meta(max_length=20, extra_json_schema={"uniqueItems": True})
]
Cursor = Annotated[str, Meta(max_length=200)]
#: A point in time with its offset (RFC 3339), e.g. ``2026-11-22T04:38:33.526Z``.
Time = Annotated[datetime, Meta(tz=True)]
#: A webhook signing secret: ``whsec_`` + base64 (padded) of 24 to 64 bytes, as Standard
#: Webhooks receivers accept (``delivery.signing.valid_secret`` says the same).
WEBHOOK_SECRET: Final = (
    r"^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/]{2}==)?"
    rf"|(?:[A-Za-z0-9+/]{{4}}){{8,20}}[A-Za-z0-9+/]{{3}}=){END}"
)
WebhookSecret = Annotated[str, Meta(max_length=200, pattern=WEBHOOK_SECRET)]
PATTERN_NAMES[WEBHOOK_SECRET] = "`whsec_` followed by base64 of 24 to 64 bytes"

#: A character that is not white space, spelled out so that Python (``str.strip``) and
#: ECMA-262 (``\s``) regexes agree on it: a text without one is blank.
NOT_BLANK: Final = (
    r"[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
)
_NOT_BLANK = re.compile(NOT_BLANK)


def blank(text: str) -> bool:
    """Whether ``text`` holds nothing but white space (``NOT_BLANK``)."""
    return _NOT_BLANK.search(text) is None


#: No request ever sets a conversation's status to ``bot_active`` (``invalid_state``).
NOT_BOT_ACTIVE: Final = {"not": {"const": Status.BOT_ACTIVE.value}}


def text_or_attachments(text: str) -> dict[str, Any]:
    """JSON Schema of "field ``text`` not blank, or at least one attachment"."""
    return {
        "anyOf": [
            {"required": [text], "properties": {text: {"pattern": NOT_BLANK}}},
            {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
        ]
    }


def _once_each(values: tuple[str, ...] | UnsetType, name: str) -> None:
    """Refuse a list of settings that names one value twice (origins compare ignoring case)."""
    if isinstance(values, UnsetType):
        return
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value.lower() in seen:
            raise Invalid(f"{value!r} is listed twice", at=f".{name}[{index}]")
        seen.add(value.lower())


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message, by URL."""

    url: AttachmentUrl
    mime: Annotated[str, Meta(max_length=200)] | None = None
    size: Annotated[int, Meta(ge=0, le=MAX_SEQ)] | None = None
    sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}" + END)] | None = None
    name: ShortText | None = None


@dataclass(frozen=True, slots=True)
class ContactInput:
    """Who the visitor is, as far as an integration knows."""

    external_id: ShortText | None = None
    name: ShortText | None = None
    email: ShortText | None = None
    metadata: Metadata = field(default_factory=Metadata)


# -- conversations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartConversation:
    """Start a conversation. A visitor token implies the widget and the contact.

    ``channel``: how agent messages reach the visitor, ``widget`` (the socket) or ``api``
    (the org's channel webhooks).
    """

    widget_id: UUID | UnsetType = UNSET
    contact_id: UUID | UnsetType = UNSET
    contact: ContactInput | UnsetType = UNSET
    metadata: Metadata = field(default_factory=Metadata)
    channel: Channel = "widget"


@dataclass(frozen=True, slots=True)
class GetConversation:
    conversation_id: UUID


@dataclass(frozen=True, slots=True)
class ListConversations:
    status: Status | UnsetType = UNSET
    limit: PageSize = 50
    cursor: Cursor | UnsetType = UNSET


@dataclass(frozen=True, slots=True)
class UpdateConversation:
    """Change status and/or assignee, under the lifecycle rules."""

    conversation_id: UUID
    status: Status | UnsetType = UNSET
    assignee_id: UUID | None | UnsetType = UNSET
    epoch: Seq | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = {"properties": {"status": NOT_BOT_ACTIVE}}


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Post a message. ``role``/``agent_id``/``epoch`` matter only for API keys and bots."""

    conversation_id: UUID
    content: Content = ""
    attachments: Annotated[tuple[Attachment, ...], Meta(max_length=MAX_ATTACHMENTS)] = ()
    client_message_id: ClientMessageId | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    agent_id: UUID | UnsetType = UNSET
    #: The sender's id on an external live-agent platform (role ``live_agent`` only).
    external_sender_id: ShortText | UnsetType = UNSET
    epoch: Seq | UnsetType = UNSET
    metadata: Metadata = field(default_factory=Metadata)

    schema_rules: ClassVar[Mapping[str, Any]] = {
        **text_or_attachments("content"),
        "properties": {"role": {"not": {"const": Role.SYSTEM.value}}},
        "dependentSchemas": {
            "external_sender_id": {
                "required": ["role"],
                "properties": {"role": {"const": Role.LIVE_AGENT.value}},
            },
            # What an API key may name; tokens send as themselves.
            "agent_id": {
                "properties": {"role": {"enum": [Role.AGENT.value, Role.LIVE_AGENT.value]}}
            },
        },
    }

    def __post_init__(self) -> None:
        if blank(self.content) and not self.attachments:
            raise ValueError("a message needs content or attachments")


@dataclass(frozen=True, slots=True)
class EndConversation:
    """End a conversation: status ``closed``, ``ended_at`` stamped. Refused once ended."""

    conversation_id: UUID


@dataclass(frozen=True, slots=True)
class ListMessages:
    conversation_id: UUID
    after_seq: Seq = 0
    limit: PageSize = 50


@dataclass(frozen=True, slots=True)
class ReadEvents:
    """Read a conversation's event log after ``after_seq`` (subscribe catch-up, resume)."""

    conversation_id: UUID
    after_seq: Seq = 0
    limit: PageSize = 200


@dataclass(frozen=True, slots=True)
class WatchConversation:
    """Check that the caller may follow a conversation; returns it."""

    conversation_id: UUID


@dataclass(frozen=True, slots=True)
class WatchInbox:
    """Check that the caller may follow the org-wide inbox."""


@dataclass(frozen=True, slots=True)
class SetTyping:
    conversation_id: UUID
    on: bool


@dataclass(frozen=True, slots=True)
class MarkRead:
    conversation_id: UUID
    seq: Seq


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreUpload:
    """Store an uploaded file for a conversation (not parsed from JSON: built by routes)."""

    conversation_id: UUID
    data: bytes
    filename: str | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class GetFile:
    """Read a stored file of the caller's org."""

    sha256: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}" + END)]


# -- sessions and tokens ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenWidgetSession:
    """A visitor opens the widget: a contact (new, or the token's own) and a visitor token."""

    widget_id: UUID
    external_id: ShortText | None = None
    name: ShortText | None = None
    email: ShortText | None = None
    metadata: Metadata = field(default_factory=Metadata)


@dataclass(frozen=True, slots=True)
class IssueToken:
    """A short-lived socket token for an agent (``agent_id``) or for the org's bot."""

    kind: Literal["agent", "bot"] = "agent"
    agent_id: UUID | UnsetType = UNSET


# -- org administration -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateWidget:
    name: Name
    allowed_origins: Origins = ("*",)
    messages_per_minute: Annotated[int, Meta(ge=1)] | None = None
    live_agent_endpoint_url: Url | None = None
    live_agent_escalate_after: Seconds = 0
    live_agent_timeout: Annotated[int, Meta(ge=1, le=7 * 86400)] = 300
    live_agent_fallback: Fallback = "team"

    def __post_init__(self) -> None:
        _once_each(self.allowed_origins, "allowed_origins")


@dataclass(frozen=True, slots=True)
class UpdateWidget:
    widget_id: UUID
    name: Name | UnsetType = UNSET
    allowed_origins: Origins | UnsetType = UNSET
    messages_per_minute: Annotated[int, Meta(ge=1)] | None | UnsetType = UNSET
    live_agent_endpoint_url: Url | None | UnsetType = UNSET
    live_agent_escalate_after: Seconds | UnsetType = UNSET
    live_agent_timeout: Annotated[int, Meta(ge=1, le=7 * 86400)] | UnsetType = UNSET
    live_agent_fallback: Fallback | UnsetType = UNSET

    def __post_init__(self) -> None:
        _once_each(self.allowed_origins, "allowed_origins")


@dataclass(frozen=True, slots=True)
class GetWidget:
    widget_id: UUID


@dataclass(frozen=True, slots=True)
class ListWidgets:
    pass


@dataclass(frozen=True, slots=True)
class CreateAgent:
    name: Name
    email: ShortText | None = None


@dataclass(frozen=True, slots=True)
class ListAgents:
    pass


@dataclass(frozen=True, slots=True)
class GetAgent:
    agent_id: UUID


@dataclass(frozen=True, slots=True)
class UpdateAgent:
    """``status: disabled`` refuses the agent's tokens (and closes its sockets) until it is
    ``active`` again."""

    agent_id: UUID
    name: Name | UnsetType = UNSET
    email: ShortText | None | UnsetType = UNSET
    status: AgentStatus | UnsetType = UNSET


@dataclass(frozen=True, slots=True)
class DeleteAgent:
    """Delete an agent for good: its tokens are refused, its messages stay."""

    agent_id: UUID


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    name: ShortText = ""


@dataclass(frozen=True, slots=True)
class ListApiKeys:
    pass


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    api_key_id: UUID


# -- webhooks -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateWebhook:
    """An endpoint for the org's events (``kind="events"``, filtered by ``event_types``;
    none: every type) or for the outgoing messages of ``api``-channel conversations
    (``kind="channel"``). ``secret`` (``whsec_...``) is generated unless given."""

    url: Url
    kind: Literal["events", "channel"] = "events"
    description: Annotated[str, Meta(max_length=500)] = ""
    event_types: EventTypes = ()
    fifo: bool = False
    secret: WebhookSecret | UnsetType = UNSET

    def __post_init__(self) -> None:
        _once_each(self.event_types, "event_types")


@dataclass(frozen=True, slots=True)
class ListWebhooks:
    pass


@dataclass(frozen=True, slots=True)
class GetWebhook:
    webhook_id: UUID


@dataclass(frozen=True, slots=True)
class UpdateWebhook:
    """``status: active`` also resumes a paused endpoint; ``disabled`` stops recording."""

    webhook_id: UUID
    url: Url | UnsetType = UNSET
    description: Annotated[str, Meta(max_length=500)] | UnsetType = UNSET
    event_types: EventTypes | UnsetType = UNSET
    fifo: bool | UnsetType = UNSET
    status: Literal["active", "disabled"] | UnsetType = UNSET

    def __post_init__(self) -> None:
        _once_each(self.event_types, "event_types")


@dataclass(frozen=True, slots=True)
class DeleteWebhook:
    webhook_id: UUID


@dataclass(frozen=True, slots=True)
class RotateWebhookSecret:
    """A new secret signs from now on; the old one also signs for ``grace_seconds``."""

    webhook_id: UUID
    grace_seconds: Seconds = 86400
    secret: WebhookSecret | UnsetType = UNSET


@dataclass(frozen=True, slots=True)
class ListWebhookDeliveries:
    webhook_id: UUID
    status: DeliveryStatus | UnsetType = UNSET
    after: Annotated[str, Meta(max_length=100)] | UnsetType = UNSET
    limit: Annotated[int, Meta(ge=1, le=100)] = 50


@dataclass(frozen=True, slots=True)
class GetWebhookDelivery:
    webhook_id: UUID
    delivery_id: Annotated[str, Meta(max_length=100)]


@dataclass(frozen=True, slots=True)
class ReplayWebhookDelivery:
    webhook_id: UUID
    delivery_id: Annotated[str, Meta(max_length=100)]


@dataclass(frozen=True, slots=True)
class ReplayWebhookDeliveries:
    """Send again every ``dead`` delivery created in ``[since, until)`` (and the delivered
    ones too with ``include_delivered``), each with its original ``webhook-id``."""

    webhook_id: UUID
    since: Time
    until: Time | UnsetType = UNSET
    include_delivered: bool = False


Command = (
    StartConversation
    | GetConversation
    | ListConversations
    | UpdateConversation
    | SendMessage
    | EndConversation
    | ListMessages
    | ReadEvents
    | WatchConversation
    | WatchInbox
    | SetTyping
    | MarkRead
    | StoreUpload
    | GetFile
    | OpenWidgetSession
    | IssueToken
    | CreateWidget
    | UpdateWidget
    | GetWidget
    | ListWidgets
    | CreateAgent
    | ListAgents
    | GetAgent
    | UpdateAgent
    | DeleteAgent
    | CreateApiKey
    | ListApiKeys
    | RevokeApiKey
    | CreateWebhook
    | ListWebhooks
    | GetWebhook
    | UpdateWebhook
    | DeleteWebhook
    | RotateWebhookSecret
    | ListWebhookDeliveries
    | GetWebhookDelivery
    | ReplayWebhookDelivery
    | ReplayWebhookDeliveries
)
