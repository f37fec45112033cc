"""The field types commands are made of: ids, texts, sequence numbers, URLs, origins, times,
and the limits they carry; with two checks several commands share."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from msgspec import Meta, UnsetType

from protocol import formats, urls
from protocol.states import Status
from protocol.validation import PATTERN_NAMES, Invalid

__all__ = [
    "MessagesPerMinute",
    "NOT_BLANK",
    "NOT_BOT_ACTIVE",
    "WEBHOOK_SECRET",
    "WebhookSecret",
    "blank",
    "text_or_attachments",
    "END",
    "MAX_ATTACHMENTS",
    "MAX_CONTENT_CHARS",
    "MAX_SEQ",
    "not_blank",
    "once_each",
    "AgentRole",
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
AgentRole = Literal["admin", "agent"]
Seconds = Annotated[int, Meta(ge=0, le=7 * 86400)]
#: A widget's visitor message rate (a million a minute is far past any real chat).
MessagesPerMinute = Annotated[int, Meta(ge=1, le=1_000_000)]
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
    if isinstance(value, str) and blank(value):
        raise Invalid(f"{name} is blank: send some text, or null for the default", at=f".{name}")


#: A webhook signing secret: ``whsec_`` + base64 (padded) of 24 to 64 bytes, as Standard
#: Webhooks receivers accept (``delivery.signing.valid_secret`` says the same).
WEBHOOK_SECRET: Final = (
    r"^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,21}(?:[A-Za-z0-9+/]{2}==)?"
    rf"|(?:[A-Za-z0-9+/]{{4}}){{8,20}}[A-Za-z0-9+/]{{3}}=){END}"
)
WebhookSecret = Annotated[str, Meta(max_length=200, pattern=WEBHOOK_SECRET)]
PATTERN_NAMES[WEBHOOK_SECRET] = "`whsec_` followed by base64 of 24 to 64 bytes"

#: A character that is not white space, as Python and ECMA-262 regexes both read it: a text
#: without one is blank.
NOT_BLANK: Final = formats.NOT_SPACE
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
