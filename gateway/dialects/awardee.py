"""Awardee: human takeover with URL image attachments.

- ``POST /conversations/{id}/messages``, body ``{"text", "attachments"?: [{"url"}]}`` ->
  ``SendMessage`` as a human agent through the API (role ``agent``, ``metadata.source`` =
  ``"api"``): from ``agent_requested`` it is the takeover (status ``open``, the system marker),
  and only ``open`` and ``agent_requested`` accept it. ``text`` is trimmed and may be empty only
  with attachments; each attachment URL is fetched SSRF-safely (images only), and one that
  cannot be used, whatever the reason (its scheme included), answers ``422 invalid_payload``.
- ``PATCH /conversations/{id}``, body ``{"status"}`` -> ``UpdateConversation`` (lifecycle rules;
  never ``bot_active``).
- ``GET /conversations/{id}/messages?after_seq=&limit=`` -> ``ListMessages``, in this shape.

Answers the message ``{object: "message", id, conversation_id, role, metadata, parts,
created_at}``; errors ``{"error": code, "message", "request_id", "details"?}``.
``Idempotency-Key`` is honoured on POST, scoped to (API key, method, path, key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.bus import Context
from gateway.core.results import MessagePage, Sent
from gateway.dialects.common import ErrorTable, VendorError, path_id
from gateway.http.responses import json_response
from gateway.http.services import http_services
from gateway.http.serving import json_object, query_of, serve
from gateway.limits.policy import rate_limit_headers
from protocol import commands as cmd, fields
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role, Status
from protocol.validation import parse
from storage.models import Conversation, Message, to_wire

__all__ = ["ERRORS", "ROLES", "routes"]

VALIDATION = VendorError(400, "validation_error")
ERRORS: Final = ErrorTable(
    {
        ErrorCode.BAD_REQUEST: VALIDATION,
        ErrorCode.VALIDATION_ERROR: VALIDATION,
        ErrorCode.INVALID_STATE: VendorError(400, "invalid_state"),
        ErrorCode.UNAUTHORIZED: VendorError(401, "unauthorized"),
        ErrorCode.FORBIDDEN: VendorError(403, "forbidden"),
        ErrorCode.QUOTA_EXCEEDED: VendorError(403, "quota_exceeded"),
        ErrorCode.NOT_FOUND: VendorError(404, "not_found"),
        ErrorCode.CONTROL_LOST: VendorError(409, "conflict"),
        ErrorCode.IDEMPOTENCY_CONFLICT: VendorError(409, "idempotency_conflict"),
        ErrorCode.PAYLOAD_TOO_LARGE: VendorError(413, "payload_too_large"),
        ErrorCode.ATTACHMENT_REJECTED: VendorError(422, "invalid_payload"),
        ErrorCode.RATE_LIMITED: VendorError(429, "rate_limit_exceeded"),
        ErrorCode.UNAVAILABLE: VendorError(503, "service_unavailable"),
    },
    fallback=VendorError(500, "internal_error"),
)

#: Native roles as Awardee names them.
ROLES: Final = {
    Role.VISITOR: "user",
    Role.AGENT: "assistant",
    Role.LIVE_AGENT: "assistant",
    Role.BOT: "assistant",
    Role.SYSTEM: "system",
}


@dataclass(frozen=True, slots=True)
class UrlAttachment:
    #: Any string: whatever cannot be used (another scheme than http/https, not a URL, an
    #: unsafe host, not an image...) is an unusable attachment, ``422 invalid_payload`` with
    #: the url in ``details``, as Awardee answers it; not a malformed request.
    url: str


@dataclass(frozen=True, slots=True)
class MessageBody:
    text: fields.Content = ""
    attachments: Annotated[tuple[UrlAttachment, ...], Meta(max_length=fields.MAX_ATTACHMENTS)] = ()

    schema_rules: ClassVar[Mapping[str, Any]] = fields.text_or_attachments("text")

    def __post_init__(self) -> None:
        if fields.blank(self.text) and not self.attachments:
            raise ValueError("text may be empty only with attachments")


@dataclass(frozen=True, slots=True)
class StatusBody:
    status: Status

    schema_rules: ClassVar[Mapping[str, Any]] = {"properties": {"status": fields.NOT_BOT_ACTIVE}}


def routes() -> list[Route]:
    return [
        Route("/conversations/{conversation_id}/messages", _send, methods=["POST"]),
        Route("/conversations/{conversation_id}/messages", _list, methods=["GET"]),
        Route("/conversations/{conversation_id}", _update, methods=["PATCH"]),
    ]


async def _send(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        message = parse(MessageBody, json_object(body))
        command = cmd.SendMessage(
            conversation_id=path_id(request, "conversation_id", "conversation"),
            content=message.text.strip(),
            attachments=tuple(cmd.Attachment(url=a.url) for a in message.attachments),
            role=Role.AGENT,
        )
        sent: Sent = await gateway.bus.dispatch(ctx, command)
        return json_response(render_message(sent.message), 201)

    return await serve(request, run, on_error=_error)


async def _update(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        change = parse(StatusBody, json_object(body))
        command = cmd.UpdateConversation(
            path_id(request, "conversation_id", "conversation"), status=change.status
        )
        conversation: Conversation = await gateway.bus.dispatch(ctx, command)
        return json_response(_conversation(conversation))

    return await serve(request, run, on_error=_error)


async def _list(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        query = {
            **query_of(request),
            "conversation_id": str(path_id(request, "conversation_id", "conversation")),
        }
        page: MessagePage = await gateway.bus.dispatch(
            ctx, parse(cmd.ListMessages, query, strict=False)
        )
        return json_response(
            {
                "object": "list",
                # An integration's visitor-facing read: private notes are staff only.
                "data": [render_message(m) for m in page.data if not m.private],
                "has_more": page.has_more,
            }
        )

    return await serve(request, run, read=False, on_error=_error)


def render_message(message: Message) -> dict[str, Any]:
    """A stored message as an Awardee message object."""
    parts: list[dict[str, Any]] = []
    if message.content:
        parts.append({"order": 0, "text": message.content})
    for attachment in message.attachments:
        part = {
            "order": len(parts),
            "file_url": attachment["url"],
            "file_media_type": attachment["mime"],
        }
        if attachment.get("name"):
            part["file_filename"] = attachment["name"]
        parts.append(part)
    return {
        "object": "message",
        "id": message.id,
        "conversation_id": message.conversation_id,
        "role": ROLES[message.role],
        "metadata": message.metadata,
        "parts": parts,
        "created_at": to_wire(message)["created_at"],
    }


def _conversation(conversation: Conversation) -> dict[str, Any]:
    wire = to_wire(conversation)
    return {
        "object": "conversation",
        "id": conversation.id,
        "status": conversation.status.value,
        "created_at": wire["created_at"],
        "updated_at": wire["updated_at"],
    }


def _error(exc: GatewayError, request_id: str) -> Response:
    vendor = ERRORS.lookup(exc)
    body: dict[str, Any] = {"error": vendor.code, "message": exc.message, "request_id": request_id}
    if exc.details is not None:
        body["details"] = exc.details
    return json_response(body, vendor.status, rate_limit_headers(exc))
