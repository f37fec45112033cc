"""Commands of org administration: widget sessions and tokens, widgets and their look,
agents, API keys, webhooks. Re-exported by ``protocol.commands`` with the others."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol.bounds import Metadata
from protocol.fields import (
    AgentRole,
    AgentStatus,
    Color,
    DeliveryStatus,
    EventTypes,
    ExternalId,
    Fallback,
    IdentitySecret,
    Instant,
    Language,
    MessagesPerMinute,
    Name,
    Origins,
    Position,
    Seconds,
    ShortText,
    Url,
    UserHash,
    WebhookSecret,
    not_blank,
    once_each,
)
from protocol.validation import Invalid

__all__ = [
    "Appearance",
    "CreateAgent",
    "CreateApiKey",
    "CreateWebhook",
    "CreateWidget",
    "DeleteAgent",
    "DeleteWebhook",
    "GetAgent",
    "GetWebhook",
    "GetWebhookDelivery",
    "GetWidget",
    "GetWidgetConfig",
    "IssueToken",
    "ListAgents",
    "ListApiKeys",
    "ListWebhookDeliveries",
    "ListWebhooks",
    "ListWidgets",
    "OpenWidgetSession",
    "ReplayWebhookDeliveries",
    "ReplayWebhookDelivery",
    "RevokeApiKey",
    "RotateWebhookSecret",
    "RotateWidgetIdentitySecret",
    "UpdateAgent",
    "UpdateWebhook",
    "UpdateWidget",
]


@dataclass(frozen=True, slots=True)
class Appearance:
    """How a widget looks and what it says. On create, what is not sent takes its default; on
    update, what is not sent stays as it is and ``null`` returns a field to its default. The
    default texts depend on ``language`` (docs/api.md, "Widget look and texts")."""

    color: Color | None | UnsetType = UNSET
    position: Position | None | UnsetType = UNSET
    language: Language | None | UnsetType = UNSET
    #: The header of the chat window.
    title: Annotated[str, Meta(min_length=1, max_length=100)] | None | UnsetType = UNSET
    #: The first words a visitor reads, before anyone writes.
    greeting: Annotated[str, Meta(min_length=1, max_length=500)] | None | UnsetType = UNSET
    #: The label of the launcher button.
    launcher_text: Annotated[str, Meta(min_length=1, max_length=40)] | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        for name in ("title", "greeting", "launcher_text"):
            not_blank(getattr(self, name), name)

    def applied_to(self, chosen: Mapping[str, Any]) -> dict[str, Any]:
        """``chosen`` (what an org chose so far) with this change applied: the fields sent
        replace theirs, a ``null`` removes one (back to its default)."""
        result = dict(chosen)
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                result.pop(f.name, None)
            elif value is not UNSET:
                result[f.name] = value
        return result


# -- sessions and tokens ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenWidgetSession:
    """A visitor opens the widget: a contact (new, the token's own, or the one of a verified
    ``external_id``) and a visitor token. ``external_id`` and ``user_hash`` go together: the
    hash proves the id (identity verification)."""

    widget_id: UUID
    external_id: ExternalId | None = None
    user_hash: UserHash | None = None
    name: ShortText | None = None
    email: ShortText | None = None
    metadata: Metadata = field(default_factory=Metadata)

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "allOf": [
            {
                "if": {"required": [one], "properties": {one: {"type": "string"}}},
                "then": {"required": [other], "properties": {other: {"type": "string"}}},
            }
            for one, other in (("external_id", "user_hash"), ("user_hash", "external_id"))
        ]
    }

    def __post_init__(self) -> None:
        if (self.external_id is None) != (self.user_hash is None):
            missing = "user_hash" if self.user_hash is None else "external_id"
            raise Invalid(
                f"external_id and user_hash go together (identity verification): "
                f"{missing} is missing",
                at=f".{missing}",
            )


@dataclass(frozen=True, slots=True)
class GetWidgetConfig:
    """What a widget's script needs to show itself (no credential; the widget's origins)."""

    widget_id: UUID


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
    messages_per_minute: MessagesPerMinute | None = None
    live_agent_endpoint_url: Url | None = None
    live_agent_escalate_after: Seconds = 0
    live_agent_timeout: Annotated[int, Meta(ge=1, le=7 * 86400)] = 300
    live_agent_fallback: Fallback = "team"
    appearance: Appearance = field(default_factory=Appearance)
    #: Refused here: a new widget has no identity secret yet (``RotateWidgetIdentitySecret``).
    identity_required: bool = False
    #: The bot that answers first in its conversations (a bot of the org); null: none.
    bot_id: UUID | None = None

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "properties": {"identity_required": {"const": False}}
    }

    def __post_init__(self) -> None:
        once_each(self.allowed_origins, "allowed_origins")
        if self.identity_required:
            raise Invalid(
                "a new widget has no identity secret yet: create the widget, then "
                "POST /v1/widgets/{widget_id}/identity-secret, then set identity_required",
                at=".identity_required",
            )


@dataclass(frozen=True, slots=True)
class UpdateWidget:
    widget_id: UUID
    name: Name | UnsetType = UNSET
    allowed_origins: Origins | UnsetType = UNSET
    messages_per_minute: MessagesPerMinute | None | UnsetType = UNSET
    live_agent_endpoint_url: Url | None | UnsetType = UNSET
    live_agent_escalate_after: Seconds | UnsetType = UNSET
    live_agent_timeout: Annotated[int, Meta(ge=1, le=7 * 86400)] | UnsetType = UNSET
    live_agent_fallback: Fallback | UnsetType = UNSET
    appearance: Appearance | UnsetType = UNSET
    #: Every session must then carry a valid ``user_hash`` (needs an identity secret).
    identity_required: bool | UnsetType = UNSET
    #: The bot that answers first in its new conversations (a bot of the org); null: none.
    bot_id: UUID | None | UnsetType = UNSET

    def __post_init__(self) -> None:
        once_each(self.allowed_origins, "allowed_origins")


@dataclass(frozen=True, slots=True)
class GetWidget:
    widget_id: UUID


@dataclass(frozen=True, slots=True)
class RotateWidgetIdentitySecret:
    """A new identity secret for the widget, replacing any (the old one stops verifying at
    once). The answer is the only time it is shown. ``identity_secret`` sets a given one
    instead (at least 32 characters, no whitespace)."""

    widget_id: UUID
    identity_secret: IdentitySecret | UnsetType = UNSET


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
    """``status: disabled`` refuses the agent's tokens and sessions (and closes its sockets)
    until it is ``active`` again; ``role`` is ``admin`` or ``agent``."""

    agent_id: UUID
    name: Name | UnsetType = UNSET
    email: ShortText | None | UnsetType = UNSET
    status: AgentStatus | UnsetType = UNSET
    role: AgentRole | UnsetType = UNSET


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
        once_each(self.event_types, "event_types")


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
        once_each(self.event_types, "event_types")


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
    since: Instant
    until: Instant | UnsetType = UNSET
    include_delivered: bool = False
