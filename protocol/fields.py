"""The field types commands are made of: ids, texts, sequence numbers, URLs, origins, times,
and the limits they carry; with two checks several commands share."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, UnsetType

from protocol import formats, urls
from protocol.validation import Invalid

__all__ = [
    "END",
    "MAX_ATTACHMENTS",
    "MAX_CONTENT_CHARS",
    "MAX_SEQ",
    "not_blank",
    "once_each",
    "AgentStatus",
    "AttachmentUrl",
    "Channel",
    "ClientMessageId",
    "Color",
    "Content",
    "Cursor",
    "DeliveryStatus",
    "EventTypes",
    "ExternalId",
    "Fallback",
    "IdentitySecret",
    "Instant",
    "Language",
    "Name",
    "Origin",
    "Origins",
    "PageSize",
    "Position",
    "Seconds",
    "Seq",
    "ShortText",
    "Url",
    "UserHash",
    "WebhookEventType",
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
Origins = Annotated[tuple[Origin, ...], Meta(max_length=50)]
EventTypes = Annotated[tuple[WebhookEventType, ...], Meta(max_length=20)]
Cursor = Annotated[str, Meta(max_length=200)]
#: An instant as RFC 3339 requires it: with an offset (``Z`` or ``+02:00``), any precision.
Instant = Annotated[datetime, Meta(tz=True)]
Color = Annotated[str, Meta(pattern=formats.COLOR)]
#: Where the launcher sits, at the bottom of the page.
Position = Literal["left", "right"]
#: The widget's language: its built-in texts and the default ones below.
Language = Literal["en", "fr"]
ExternalId = Annotated[str, Meta(min_length=1, max_length=200)]
#: Hex HMAC-SHA256 of an ``external_id`` with the widget's identity secret.
UserHash = Annotated[str, Meta(pattern=formats.HMAC_HEX)]
IdentitySecret = Annotated[str, Meta(min_length=32, max_length=200, pattern=formats.SECRET)]


def once_each(values: tuple[str, ...] | UnsetType, name: str) -> None:
    """Refuse a list of settings that names one value twice (origins compare ignoring case)."""
    if isinstance(values, UnsetType):
        return
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value.lower() in seen:
            raise Invalid(f"{value!r} is listed twice", at=f".{name}[{index}]")
        seen.add(value.lower())


def not_blank(value: object, name: str) -> None:
    if isinstance(value, str) and not value.strip():
        raise Invalid(f"{name} is blank: send some text, or null for the default", at=f".{name}")
