"""Bland: live-agent widget threads.

``POST /v1/widget/{widget_id}/threads/{thread_id}/webhook`` with ``authorization: <API key>``
(raw, or ``Bearer <key>``). A thread is a conversation of that widget.

- ``{"type": "MESSAGE", "content", "sender_id", "created_at"?}`` -> ``SendMessage`` with role
  ``live_agent`` (a human takeover, as from any human); the message takes ``created_at`` as its
  time when given (order stays by ``seq``); answers the message object.
- ``{"type": "END_CONVERSATION", "sender_id"?}`` -> ``EndConversation``; answers the thread.

Every answer is ``{"data": ..., "errors": null}`` or ``{"data": null, "errors": [{code,
message}]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from msgspec import UNSET, Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.core.bus import Context
from gateway.dialects.common import ErrorTable, VendorError, ended, path_id
from gateway.http.responses import json_response
from gateway.http.services import HttpServices, http_services
from gateway.http.serving import json_object, serve
from gateway.limits.policy import rate_limit_headers
from protocol import commands as cmd, fields
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role
from protocol.validation import parse
from storage.models import Conversation, Message, Widget, to_wire

__all__ = ["ERRORS", "routes"]

PATH = "/v1/widget/{widget_id}/threads/{thread_id}/webhook"

INVALID_PARAMETER = VendorError(400, "INVALID_PARAMETER")
ERRORS: Final = ErrorTable(
    {
        ErrorCode.BAD_REQUEST: INVALID_PARAMETER,
        ErrorCode.VALIDATION_ERROR: INVALID_PARAMETER,
        # A message to a thread that was never handed to a live agent (still with the bot).
        ErrorCode.INVALID_STATE: INVALID_PARAMETER,
        ErrorCode.NOT_FOUND: VendorError(404, "NOT_FOUND"),
        ErrorCode.UNAUTHORIZED: VendorError(401, "UNAUTHORIZED"),
        ErrorCode.FORBIDDEN: VendorError(403, "FORBIDDEN"),
        ErrorCode.QUOTA_EXCEEDED: VendorError(403, "QUOTA_EXCEEDED"),
        ErrorCode.PAYLOAD_TOO_LARGE: VendorError(413, "PAYLOAD_TOO_LARGE"),
        ErrorCode.IDEMPOTENCY_CONFLICT: VendorError(409, "IDEMPOTENCY_CONFLICT"),
        ErrorCode.RATE_LIMITED: VendorError(429, "RATE_LIMITED"),
        ErrorCode.UNAVAILABLE: VendorError(503, "SERVICE_UNAVAILABLE"),
    },
    fallback=VendorError(500, "INTERNAL_ERROR"),
)
THREAD_ENDED = VendorError(400, "THREAD_ENDED")

SenderId = Annotated[str, Meta(min_length=1, max_length=200)]


@dataclass(frozen=True, slots=True)
class MessageBody:
    type: Literal["MESSAGE"]
    content: Annotated[str, Meta(min_length=1, max_length=fields.MAX_CONTENT_CHARS)]
    sender_id: SenderId
    #: ISO 8601 with an offset (``Z`` or ``+02:00``), any precision: the message's time.
    created_at: fields.Instant | None = None


@dataclass(frozen=True, slots=True)
class EndBody:
    type: Literal["END_CONVERSATION"]
    sender_id: SenderId | None = None


def routes() -> list[Route]:
    return [Route(PATH, _webhook, methods=["POST"], name="bland_thread_webhook")]


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization", "").strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        header = rest.strip()
    return header or None


async def _webhook(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        thread = await _thread(gateway, ctx, request)
        payload = json_object(body)
        kind = payload.get("type")
        if kind == "MESSAGE":
            message_body = parse(MessageBody, payload)
            sent = await gateway.bus.dispatch(
                ctx,
                cmd.SendMessage(
                    conversation_id=UUID(thread.id),
                    content=message_body.content,
                    role=Role.LIVE_AGENT,
                    external_sender_id=message_body.sender_id,
                    created_at=UNSET
                    if message_body.created_at is None
                    else message_body.created_at,
                ),
            )
            return _ok(_message(sent.message, thread))
        if kind == "END_CONVERSATION":
            parse(EndBody, payload)
            conversation = await gateway.bus.dispatch(
                ctx, cmd.EndConversation(conversation_id=UUID(thread.id))
            )
            widget = await gateway.bus.dispatch(ctx, cmd.GetWidget(UUID(thread.widget_id)))
            return _ok(_thread_object(conversation, widget))
        raise GatewayError(
            ErrorCode.VALIDATION_ERROR,
            "type must be MESSAGE or END_CONVERSATION",
            details={"path": "$.type"},
        )

    return await serve(request, run, credential=_credential, on_error=_error)


async def _thread(gateway: HttpServices, ctx: Context, request: Request) -> Conversation:
    """The conversation named by the path, if it is a thread of that widget."""
    widget_id = path_id(request, "widget_id", "thread")
    thread_id = path_id(request, "thread_id", "thread")
    conversation: Conversation = await gateway.bus.dispatch(ctx, cmd.GetConversation(thread_id))
    if conversation.widget_id != str(widget_id):
        raise GatewayError.not_found("thread")
    if conversation.ended_at is not None:
        raise GatewayError(
            ErrorCode.INVALID_STATE,
            "the thread has ended",
            details={"status": conversation.status.value},
        )
    return conversation


def _message(message: Message, thread: Conversation) -> dict[str, Any]:
    created = to_wire(message)["created_at"]
    return {
        "created_at": created,
        "updated_at": created,
        "id": message.id,
        "org_id": thread.org_id,
        "widget_id": thread.widget_id,
        "thread_id": thread.id,
        "pathway_session_id": thread.metadata.get("pathway_session_id"),
        "sender_type": "LIVE_AGENT",
        "sender_id": message.sender_id,
        "content": message.content,
    }


def _thread_object(conversation: Conversation, widget: Widget) -> dict[str, Any]:
    wire = to_wire(conversation)
    return {
        "created_at": wire["created_at"],
        "updated_at": wire["updated_at"],
        "ended_at": wire["ended_at"],
        "live_agent_handoff_at": wire["live_agent_handoff_at"],
        "id": conversation.id,
        "org_id": conversation.org_id,
        "widget_id": conversation.widget_id,
        "visitor_id": conversation.contact_id,
        "live_agent_endpoint_url": widget.live_agent_endpoint_url,
        "language": conversation.metadata.get("language"),
    }


def _ok(data: dict[str, Any]) -> Response:
    return json_response({"data": data, "errors": None})


def _error(exc: GatewayError, request_id: str) -> Response:
    vendor = THREAD_ENDED if ended(exc) else ERRORS.lookup(exc)
    return json_response(
        {"data": None, "errors": [{"code": vendor.code, "message": exc.message}]},
        vendor.status,
        rate_limit_headers(exc),
    )
