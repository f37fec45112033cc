"""Pingback: agent messages with uploads.

- ``POST /api/v1/conversations/{conversation_id}/messages`` (``Authorization: Bearer``), body
  ``{"content", "attachments"?: [{"url", ...}]}`` -> ``SendMessage`` as an agent (role
  ``agent``; the agent of an agent token, none for an API key). The first agent message stamps
  the conversation's ``first_response_at`` (SLA), as every first human reply does.
- ``POST /api/v1/conversations/{conversation_id}/upload`` (multipart part ``file``) ->
  ``StoreUpload``; answers the attachment object whose ``url`` goes into ``attachments``.

Errors are ``{"code", "message"}``: 401 missing/invalid token, 403 plan message limit
reached (``plan_limit_reached``), 404 conversation not found or of another org, 422
validation (``content`` required unless ``attachments``).
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
from gateway.core.results import Sent
from gateway.dialects.common import ErrorTable, VendorError, path_id
from gateway.http.files import read_upload
from gateway.http.responses import json_response
from gateway.http.services import http_services
from gateway.http.serving import json_object, serve
from gateway.limits.policy import rate_limit_headers
from protocol import commands as cmd, fields
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role
from protocol.validation import parse
from storage.models import to_wire

__all__ = ["ERRORS", "routes"]

VALIDATION = VendorError(422, "validation_error")
ERRORS: Final = ErrorTable(
    {
        ErrorCode.BAD_REQUEST: VALIDATION,
        ErrorCode.VALIDATION_ERROR: VALIDATION,
        ErrorCode.ATTACHMENT_REJECTED: VALIDATION,
        ErrorCode.INVALID_STATE: VendorError(422, "invalid_state"),
        ErrorCode.UNAUTHORIZED: VendorError(401, "unauthorized"),
        ErrorCode.FORBIDDEN: VendorError(403, "forbidden"),
        ErrorCode.QUOTA_EXCEEDED: VendorError(403, "plan_limit_reached"),
        ErrorCode.NOT_FOUND: VendorError(404, "not_found"),
        ErrorCode.CONTROL_LOST: VendorError(409, "conflict"),
        ErrorCode.IDEMPOTENCY_CONFLICT: VendorError(409, "idempotency_conflict"),
        ErrorCode.PAYLOAD_TOO_LARGE: VendorError(413, "payload_too_large"),
        ErrorCode.RATE_LIMITED: VendorError(429, "rate_limited"),
        ErrorCode.UNAVAILABLE: VendorError(503, "unavailable"),
    },
    fallback=VendorError(500, "internal_error"),
)


@dataclass(frozen=True, slots=True)
class AttachmentRef:
    """An attachment as the upload endpoint answered it; only ``url`` (and ``name``) count."""

    url: fields.AttachmentUrl
    name: fields.ShortText | None = None


@dataclass(frozen=True, slots=True)
class MessageBody:
    content: fields.Content = ""
    attachments: Annotated[tuple[AttachmentRef, ...], Meta(max_length=fields.MAX_ATTACHMENTS)] = ()

    schema_rules: ClassVar[Mapping[str, Any]] = fields.text_or_attachments("content")

    def __post_init__(self) -> None:
        if fields.blank(self.content) and not self.attachments:
            raise ValueError("content is required unless attachments are given")


def routes() -> list[Route]:
    base = "/api/v1/conversations/{conversation_id}"
    return [
        Route(f"{base}/messages", _send, methods=["POST"], name="pingback_send_message"),
        Route(f"{base}/upload", _upload, methods=["POST"], name="pingback_upload"),
    ]


async def _send(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        conversation_id = path_id(request, "conversation_id", "conversation")
        message = parse(MessageBody, json_object(body))
        command = cmd.SendMessage(
            conversation_id=conversation_id,
            content=message.content,
            attachments=tuple(cmd.Attachment(url=a.url, name=a.name) for a in message.attachments),
            role=Role.AGENT,
        )
        sent: Sent = await gateway.bus.dispatch(ctx, command)
        return json_response(_message(sent), 201)

    return await serve(request, run, on_error=_error)


async def _upload(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        conversation_id = path_id(request, "conversation_id", "conversation")
        upload = await read_upload(request, conversation_id)
        stored = await gateway.bus.dispatch(ctx, upload)
        return json_response(_attachment(stored), 201)

    return await serve(request, run, read=False, on_error=_error)


def _attachment(stored: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": stored["sha256"],
        "url": stored["url"],
        "name": stored.get("name"),
        "mime_type": stored["mime"],
        "size": stored["size"],
    }


def _message(sent: Sent) -> dict[str, Any]:
    message = sent.message
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender_type": "agent",
        "sender_id": message.sender_id,
        "content": message.content,
        "attachments": [_attachment(a) for a in message.attachments],
        "created_at": to_wire(message)["created_at"],
    }


def _error(exc: GatewayError, request_id: str) -> Response:
    vendor = ERRORS.lookup(exc)
    body: dict[str, Any] = {"code": vendor.code, "message": exc.message}
    if exc.details is not None:
        body["details"] = exc.details
    return json_response(body, vendor.status, rate_limit_headers(exc))
