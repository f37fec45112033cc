"""Commands: what a client asks the gateway to do, whatever the transport.

A REST request, a socket frame and a vendor-dialect request all become one of these frozen
dataclasses and go through the same command bus. Each class is also the validation schema for
its input: ``validation.parse(SendMessage, payload)`` checks types strictly (no coercion, a
bool is not an int) and the OpenAPI document is generated from the same classes.

Ids are UUIDs; ``UNSET`` marks a field the client did not send (distinct from ``null``).
``metadata`` is bounded by ``protocol.bounds``; origins and URLs follow ``protocol.urls``. A
list of settings (``allowed_origins``, ``event_types``) may not name one value twice. A
widget's look and texts are an ``Appearance``.

A rule that spans fields (``__post_init__``) is also written as JSON Schema in the class's
``schema_rules``, which the OpenAPI and AsyncAPI documents add to the class's schema, so the
documents state what validation enforces.

Conversations, messages and files are defined here; org administration (sessions, tokens,
widgets, agents, API keys, webhooks) in ``protocol.administration``, agent accounts in
``protocol.accounts``, bots in ``protocol.bots`` and the knowledge base in
``protocol.knowledge``, re-exported here so that every command is ``commands.X``; the field
types they share are in ``protocol.fields``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol.accounts import (
    AcceptInvitation,
    CreateInvitation,
    GetMe,
    IssuePasswordReset,
    IssueSessionToken,
    ResetPassword,
    SignIn,
    SignOut,
)
from protocol.administration import (
    Appearance,
    CreateAgent,
    CreateApiKey,
    CreateWebhook,
    CreateWidget,
    DeleteAgent,
    DeleteWebhook,
    GetAgent,
    GetWebhook,
    GetWebhookDelivery,
    GetWidget,
    GetWidgetConfig,
    IssueToken,
    ListAgents,
    ListApiKeys,
    ListWebhookDeliveries,
    ListWebhooks,
    ListWidgets,
    OpenWidgetSession,
    ReplayWebhookDeliveries,
    ReplayWebhookDelivery,
    RevokeApiKey,
    RotateWebhookSecret,
    RotateWidgetIdentitySecret,
    UpdateAgent,
    UpdateWebhook,
    UpdateWidget,
)
from protocol.bots import CreateBot, DeleteBot, GetBot, ListBots, UpdateBot
from protocol.bounds import Metadata
from protocol.fields import (
    END,
    MAX_ATTACHMENTS,
    MAX_SEQ,
    NOT_BOT_ACTIVE,
    AttachmentUrl,
    Channel,
    ClientMessageId,
    Content,
    Cursor,
    Instant,
    PageSize,
    Seq,
    ShortText,
    blank,
    text_or_attachments,
)
from protocol.knowledge import (
    CreateArticle,
    DeleteArticle,
    GetArticle,
    ImportArticle,
    ListArticles,
    SearchKnowledge,
    UpdateArticle,
)
from protocol.states import Role, Status

__all__ = [
    "AcceptInvitation",
    "CreateInvitation",
    "GetMe",
    "IssuePasswordReset",
    "IssueSessionToken",
    "ResetPassword",
    "SignIn",
    "SignOut",
    "Appearance",
    "CreateBot",
    "DeleteBot",
    "GetBot",
    "ListBots",
    "UpdateBot",
    "Attachment",
    "Command",
    "ContactInput",
    "CreateAgent",
    "CreateApiKey",
    "CreateArticle",
    "CreateWebhook",
    "CreateWidget",
    "DeleteAgent",
    "DeleteArticle",
    "DeleteWebhook",
    "EndConversation",
    "GetAgent",
    "GetArticle",
    "GetContact",
    "GetConversation",
    "GetFile",
    "GetWebhook",
    "GetWebhookDelivery",
    "GetWidget",
    "GetWidgetConfig",
    "ImportArticle",
    "IssueToken",
    "ListAgents",
    "ListPresence",
    "ListViewers",
    "ListApiKeys",
    "ListArticles",
    "ListConversations",
    "ListMessages",
    "ListWebhookDeliveries",
    "ListWebhooks",
    "ListWidgets",
    "MarkRead",
    "OpenWidgetSession",
    "PostBotAnswer",
    "ReadEvents",
    "ReplayWebhookDeliveries",
    "ReplayWebhookDelivery",
    "RevokeApiKey",
    "RotateWebhookSecret",
    "RotateWidgetIdentitySecret",
    "SearchConversations",
    "SearchKnowledge",
    "SendMessage",
    "SetPresence",
    "SetTyping",
    "SetViewing",
    "StartConversation",
    "StoreUpload",
    "UpdateAgent",
    "UpdateArticle",
    "UpdateConversation",
    "UpdateWebhook",
    "UpdateWidget",
    "WatchConversation",
    "WatchInbox",
]


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
    #: The bot that answers first (API keys only; a bot of the org). Default: the widget's.
    bot_id: UUID | UnsetType = UNSET


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
    """Post a message. ``role``/``agent_id``/``epoch`` matter only for API keys and bots;
    ``private`` only for staff."""

    conversation_id: UUID
    content: Content = ""
    attachments: Annotated[tuple[Attachment, ...], Meta(max_length=MAX_ATTACHMENTS)] = ()
    client_message_id: ClientMessageId | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    agent_id: UUID | UnsetType = UNSET
    #: The sender's id on an external live-agent platform (role ``live_agent`` only).
    external_sender_id: ShortText | UnsetType = UNSET
    #: When a live agent sent it on their platform (role ``live_agent`` only); the message
    #: takes this time, its order stays that of storage (``seq``). Default: now.
    created_at: Instant | UnsetType = UNSET
    epoch: Seq | UnsetType = UNSET
    metadata: Metadata = field(default_factory=Metadata)
    #: A private note: staff only (an agent, or an API key sending as an agent); never
    #: reaches the visitor, takes nothing over and is no first response.
    private: bool = False

    schema_rules: ClassVar[Mapping[str, Any]] = {
        **text_or_attachments("content"),
        "properties": {"role": {"not": {"const": Role.SYSTEM.value}}},
        "dependentSchemas": {
            "external_sender_id": {
                "required": ["role"],
                "properties": {"role": {"const": Role.LIVE_AGENT.value}},
            },
            "created_at": {
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
class PostBotAnswer:
    """A bot's answer, stored under the id its ``message.delta`` events announced, with the
    conversation's ``epoch`` (not parsed from JSON: built by the turn runner, ``gateway.bot``,
    for the bot principal only)."""

    conversation_id: UUID
    message_id: UUID
    content: Content
    epoch: Seq
    bot_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


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


# -- presence and collisions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetPresence:
    """An agent's socket says it is ``online`` or ``away``; sent again every 20 s (the
    heartbeat). Socket only: the socket's close ends it."""

    status: Literal["online", "away"]


@dataclass(frozen=True, slots=True)
class SetViewing:
    """An agent's socket opened (``on``) or left a conversation (collision warnings)."""

    conversation_id: UUID
    on: bool


@dataclass(frozen=True, slots=True)
class ListPresence:
    """Every agent of the org with its presence."""


@dataclass(frozen=True, slots=True)
class ListViewers:
    """The agents that have a conversation open now."""

    conversation_id: UUID


# -- contacts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetContact:
    """A contact of the org, for staff; a visitor may read only their own contact."""

    contact_id: UUID


# -- search -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchConversations:
    """Find conversations by contact name or email and message text (staff): every word of
    ``q`` must match, as a word prefix; operator characters are only separators. A query
    with no word finds nothing."""

    q: Annotated[str, Meta(max_length=200)] = ""
    limit: Annotated[int, Meta(ge=1, le=50)] = 20
    cursor: Cursor | UnsetType = UNSET


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
    | SetPresence
    | SetViewing
    | ListPresence
    | ListViewers
    | GetContact
    | SearchConversations
    | StoreUpload
    | GetFile
    | OpenWidgetSession
    | GetWidgetConfig
    | IssueToken
    | CreateWidget
    | UpdateWidget
    | GetWidget
    | RotateWidgetIdentitySecret
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
    | PostBotAnswer
    | CreateBot
    | ListBots
    | GetBot
    | UpdateBot
    | DeleteBot
    | CreateArticle
    | ListArticles
    | GetArticle
    | UpdateArticle
    | DeleteArticle
    | ImportArticle
    | SearchKnowledge
    | AcceptInvitation
    | CreateInvitation
    | GetMe
    | IssuePasswordReset
    | IssueSessionToken
    | ResetPassword
    | SignIn
    | SignOut
)
