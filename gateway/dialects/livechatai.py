"""LiveChatAI: ask the bot.

``POST /api/v2/conversations`` with ``Authorization: Bearer <API key>`` and
``{"question", "agentId", "conversationId"?, "messageType"?, "streaming"?, "ip"?, "country"?,
"responseFormat"?, "integrationType"?}``:

- ``agentId`` is a bot of the caller's org (``/v1/bots``); anything else is not found.
- Without ``conversationId`` a conversation is started for that bot (``StartConversation`` with
  its ``bot_id``, channel ``api``, ``metadata.integration_type``) with a new contact carrying
  ``ip`` and ``country`` in its metadata; with it, that conversation of the bot continues.
- The question is stored as the visitor's message (``SendMessage``, role ``visitor``): its text,
  or for ``messageType: IMAGE`` the image at that URL, fetched as an attachment. The bot's turn
  runner answers it (``gateway.bot.turns``) and the answer is stored as the bot's message.
- The answer: ``{"status": "success", "message": "Message sent successfully", "data":
  {conversationId, contactId, response, messageId, responseMessageId, links}}``; with
  ``streaming: true`` a ``text/event-stream`` of it (``gateway.dialects.livechatai_answers``).
  ``responseFormat: PLAIN`` reduces the Markdown answer to text.

Errors are ``{"status": "error", "message", "code", "details"?}``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar
from uuid import UUID

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.bot.turns import STATE_KEY as TURNS_KEY, BotTurns, Turn
from gateway.core.bus import Context
from gateway.core.results import Sent
from gateway.dialects.common import ErrorTable, VendorError
from gateway.dialects.livechatai_answers import Answer, answer_stream
from gateway.http.responses import json_response
from gateway.http.services import http_services
from gateway.http.serving import json_object, serve
from gateway.limits.policy import rate_limit_headers
from protocol import commands as cmd, fields
from protocol.bounds import Metadata
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.states import Role
from protocol.validation import Invalid, parse
from storage.models import Conversation

__all__ = ["ERRORS", "PATH", "AskBody", "routes"]

PATH: Final = "/api/v2/conversations"
T = TypeVar("T")

INVALID_REQUEST = VendorError(400, "invalid_request")
ERRORS: Final = ErrorTable(
    {
        ErrorCode.BAD_REQUEST: INVALID_REQUEST,
        ErrorCode.VALIDATION_ERROR: INVALID_REQUEST,
        ErrorCode.UNAUTHORIZED: VendorError(401, "unauthorized"),
        ErrorCode.FORBIDDEN: VendorError(403, "forbidden"),
        ErrorCode.QUOTA_EXCEEDED: VendorError(403, "quota_exceeded"),
        ErrorCode.NOT_FOUND: VendorError(404, "not_found"),
        ErrorCode.IDEMPOTENCY_CONFLICT: VendorError(409, "idempotency_conflict"),
        ErrorCode.PAYLOAD_TOO_LARGE: VendorError(413, "payload_too_large"),
        # The conversation does not take the visitor's messages any more (resolved, closed).
        ErrorCode.INVALID_STATE: VendorError(422, "conversation_closed"),
        # An IMAGE question whose URL cannot be used (details: url, reason).
        ErrorCode.ATTACHMENT_REJECTED: VendorError(422, "invalid_image"),
        ErrorCode.RATE_LIMITED: VendorError(429, "rate_limited"),
        ErrorCode.UNAVAILABLE: VendorError(503, "service_unavailable"),
    },
    fallback=VendorError(500, "internal_error"),
)

Id = Annotated[str, Meta(min_length=1, max_length=200)]
#: ISO 3166-1 alpha-2, as LiveChatAI's example (``US``); kept upper-case.
Country = Annotated[str, Meta(pattern="^[A-Za-z]{2}$")]
Address = Annotated[str, Meta(min_length=2, max_length=64)]


@dataclass(frozen=True, slots=True)
class AskBody:
    """A question for an agent (a bot), as LiveChatAI documents it."""

    #: The question's text, or for ``messageType: IMAGE`` the URL of the image.
    question: Annotated[str, Meta(max_length=fields.MAX_CONTENT_CHARS)]
    #: A bot of the caller's org.
    agentId: Id
    #: A conversation of that bot to continue; absent or null: a new one.
    conversationId: Id | None = None
    messageType: Literal["TEXT", "IMAGE"] = "TEXT"
    streaming: bool = False
    #: The visitor's IP address (kept on a new conversation's contact).
    ip: Address | None = None
    #: The visitor's country code (kept on a new conversation's contact).
    country: Country | None = None
    responseFormat: Literal["MARKDOWN", "PLAIN"] = "MARKDOWN"
    #: Where the conversation takes place (kept on a new conversation).
    integrationType: Literal["WHATSAPP", "SLACK"] | None = None

    schema_rules: ClassVar[Mapping[str, Any]] = {
        "properties": {
            "question": {"pattern": fields.NOT_BLANK},
            "ip": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}, {"type": "null"}]},
        }
    }

    def __post_init__(self) -> None:
        if fields.blank(self.question):
            raise Invalid("question is blank", at=".question")
        if self.ip is not None:
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                raise Invalid("ip is not an IPv4 or IPv6 address", at=".ip") from None


def routes() -> list[Route]:
    return [Route(PATH, _ask, methods=["POST"], name="livechatai_ask")]


async def _ask(request: Request) -> Response:
    async def run(ctx: Context, body: bytes) -> Response:
        gateway = http_services(request)
        if ctx.require().kind != "api_key":
            raise GatewayError(ErrorCode.FORBIDDEN, "LiveChatAI's API takes an API key")
        ask = parse(AskBody, json_object(body))
        if ask.streaming and "idempotency-key" in request.headers:
            # A stream cannot be replayed byte for byte; retry it with a new question.
            raise GatewayError(
                ErrorCode.VALIDATION_ERROR,
                "Idempotency-Key is not supported with streaming",
                details={"header": "Idempotency-Key"},
            )
        bot_id = _id(ask.agentId, "agent", "$.agentId")
        await _found(gateway.bus.dispatch(ctx, cmd.GetBot(bot_id)), "agent", "$.agentId")
        conversation = await _conversation(ctx, request, ask, bot_id)
        if ask.messageType == "IMAGE":
            question = cmd.SendMessage(
                conversation_id=UUID(conversation.id),
                attachments=(cmd.Attachment(url=ask.question),),
                role=Role.VISITOR,
            )
        else:
            question = cmd.SendMessage(
                conversation_id=UUID(conversation.id), content=ask.question, role=Role.VISITOR
            )
        sent: Sent = await gateway.bus.dispatch(ctx, question)
        answer = Answer(
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            message_id=sent.message.id,
            turn=_turn(request, sent.message.id),
            plain=ask.responseFormat == "PLAIN",
        )
        if ask.streaming:
            return answer_stream(answer)
        return json_response(await answer.body())

    return await serve(request, run, on_error=_error)


async def _conversation(ctx: Context, request: Request, ask: AskBody, bot_id: UUID) -> Conversation:
    """The conversation of that bot named by ``conversationId``, or a new one."""
    bus = http_services(request).bus
    if ask.conversationId is not None:
        path = "$.conversationId"
        conversation: Conversation = await _found(
            bus.dispatch(ctx, cmd.GetConversation(_id(ask.conversationId, "conversation", path))),
            "conversation",
            path,
        )
        if conversation.bot_id != str(bot_id):
            raise GatewayError.not_found("conversation", path)
        return conversation
    contact = Metadata()
    if ask.ip is not None:
        contact["ip"] = str(ipaddress.ip_address(ask.ip))
    if ask.country is not None:
        contact["country"] = ask.country.upper()
    metadata = Metadata()
    if ask.integrationType is not None:
        metadata["integration_type"] = ask.integrationType
    started: Conversation = await bus.dispatch(
        ctx,
        cmd.StartConversation(
            contact=cmd.ContactInput(metadata=contact),
            metadata=metadata,
            channel="api",
            bot_id=bot_id,
        ),
    )
    return started


def _turn(request: Request, message_id: str) -> Turn | None:
    """The bot's turn answering that question (none when the bot does not answer it)."""
    turns: BotTurns = getattr(request.state, TURNS_KEY)
    return turns.turn_for(message_id)


async def _found(lookup: Awaitable[T], what: str, path: str) -> T:
    """What ``lookup`` finds; its ``not_found`` names the body field that held the id."""
    try:
        return await lookup
    except GatewayError as exc:
        if exc.code is ErrorCode.NOT_FOUND:
            raise GatewayError.not_found(what, path) from None
        raise


def _id(value: str, what: str, path: str) -> UUID:
    """An id in the body; one that is not an id names nothing: ``not_found``."""
    try:
        return UUID(value)
    except ValueError:
        raise GatewayError.not_found(what, path) from None


def _error(exc: GatewayError, request_id: str) -> Response:
    return json_response(error_body(exc), ERRORS.lookup(exc).status, rate_limit_headers(exc))


def error_body(exc: GatewayError) -> dict[str, Any]:
    """A refusal in LiveChatAI's error shape."""
    body: dict[str, Any] = {
        "status": "error",
        "message": exc.message,
        "code": ERRORS.lookup(exc).code,
    }
    if exc.details is not None:
        body["details"] = exc.details
    return body
