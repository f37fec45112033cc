"""The vendor dialects in the OpenAPI document: one section per vendor, under its tag, with
the credentials its vendor documents, its request and answer shapes, and its error shape.

Request bodies are the dataclasses each dialect validates with (their schemas generated,
rules included); answers are written here as each module renders them; the error statuses
and codes come from each dialect's ``ERRORS`` table, for the native codes its operation can
meet. ``tests/dialects/golden/`` holds examples of every answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from gateway.dialects import awardee, bland, livechatai, pingback
from gateway.dialects.common import ErrorTable, VendorError
from gateway.http.openapi import (
    MEANINGS,
    REF,
    SHA256,
    ApiSection,
    answer,
    error_answers,
    idempotency_key,
    json_content,
    native_meanings,
    path_parameter,
    upload_body,
)
from gateway.http.schemas import SchemaSet
from protocol import fields
from protocol.codes import ErrorCode as E
from protocol.states import Status

__all__ = ["dialect_sections"]

_UUID: Final = {"type": "string", "format": "uuid"}
_TIME: Final = {"type": "string", "format": "date-time"}
_TIME_OR_NULL: Final = {"anyOf": [_TIME, {"type": "null"}]}
_TEXT_OR_NULL: Final = {"anyOf": [{"type": "string"}, {"type": "null"}]}

#: What any request can meet: its credential, the limits, the store.
_ANY: Final = (E.UNAUTHORIZED, E.FORBIDDEN, E.RATE_LIMITED, E.UNAVAILABLE)
#: What a request with a JSON body can meet besides.
_BODY: Final = (E.BAD_REQUEST, E.VALIDATION_ERROR, E.PAYLOAD_TOO_LARGE)
#: What sending a message can meet besides.
_SEND: Final = (
    E.NOT_FOUND,
    E.INVALID_STATE,
    E.CONTROL_LOST,
    E.QUOTA_EXCEEDED,
    E.ATTACHMENT_REJECTED,
    E.IDEMPOTENCY_CONFLICT,
)


def dialect_sections(schemas: SchemaSet) -> Sequence[ApiSection]:
    return [_bland(schemas), _pingback(schemas), _awardee(schemas), _livechatai(schemas)]


def _errors(
    table: ErrorTable,
    codes: Iterable[E],
    schema: Mapping[str, Any],
    extra: Mapping[VendorError, str] | None = None,
) -> dict[str, Any]:
    """The error answers of an operation that can meet ``codes``, in its vendor's shape
    (``extra``: vendor errors outside the table, with their meaning), and the native
    ``408`` that the connection layer answers before any dialect sees the request."""
    meanings: dict[int, list[str]] = {}
    for code in codes:
        vendor = table.lookup_code(code)
        meanings.setdefault(vendor.status, []).append(f"`{vendor.code}`: {MEANINGS[code]}")
    for vendor, meaning in (extra or {}).items():
        meanings.setdefault(vendor.status, []).append(f"`{vendor.code}`: {meaning}")
    joined = {status: "; ".join(dict.fromkeys(parts)) for status, parts in meanings.items()}
    answers = error_answers(joined, schema, joined)
    answers.update(error_answers({408}, {"$ref": REF.format(name="Error")}, native_meanings()))
    return dict(sorted(answers.items()))


def _vendor_codes(table: ErrorTable, *extra: VendorError) -> list[str]:
    return sorted({v.code for v in (*table.codes.values(), table.fallback, *extra)})


# -- Bland -------------------------------------------------------------------------------


def _bland(schemas: SchemaSet) -> ApiSection:
    message_body, end_body = schemas.requests([bland.MessageBody, bland.EndBody], "Bland")
    error = schemas.add(
        "BlandError",
        {
            "type": "object",
            "required": ["data", "errors"],
            "properties": {
                "data": {"type": "null"},
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"enum": _vendor_codes(bland.ERRORS, bland.THREAD_ENDED)},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        },
    )
    message = schemas.add(
        "BlandMessage",
        _object(
            created_at=_TIME,
            updated_at=_TIME,
            id={"type": "string"},
            org_id={"type": "string"},
            widget_id={"type": "string"},
            thread_id={"type": "string"},
            pathway_session_id={},
            sender_type={"const": "LIVE_AGENT"},
            sender_id=_TEXT_OR_NULL,
            content={"type": "string"},
        ),
    )
    thread = schemas.add(
        "BlandThread",
        _object(
            created_at=_TIME,
            updated_at=_TIME,
            ended_at=_TIME_OR_NULL,
            live_agent_handoff_at=_TIME_OR_NULL,
            id={"type": "string"},
            org_id={"type": "string"},
            widget_id={"type": "string"},
            visitor_id=_TEXT_OR_NULL,
            live_agent_endpoint_url=_TEXT_OR_NULL,
            language={},
        ),
    )
    operation = {
        "operationId": "BlandThreadWebhook",
        "summary": "A live agent's message into a widget thread (MESSAGE), or the end of the "
        "thread (END_CONVERSATION)",
        "tags": ["Bland"],
        "security": [{"blandApiKey": []}],
        "parameters": [
            path_parameter("widget_id", _UUID),
            path_parameter("thread_id", _UUID, "The conversation; a malformed id is not found"),
            idempotency_key(),
        ],
        "requestBody": {
            "required": True,
            "content": json_content(
                {
                    "oneOf": [message_body, end_body],
                    "discriminator": {
                        "propertyName": "type",
                        "mapping": {
                            "MESSAGE": message_body["$ref"],
                            "END_CONVERSATION": end_body["$ref"],
                        },
                    },
                }
            ),
        },
        "responses": {
            "200": answer(
                "The stored message (MESSAGE) or the ended thread (END_CONVERSATION)",
                json_content(_object(data={"oneOf": [message, thread]}, errors={"type": "null"})),
            ),
            **_errors(
                bland.ERRORS,
                (*_ANY, *_BODY, *_SEND),
                error,
                {bland.THREAD_ENDED: "the thread has ended"},
            ),
        },
    }
    return ApiSection(
        "Bland",
        "Bland's live-agent widget threads (docs/dialects.md). Every answer is "
        '`{"data": ..., "errors": null}` or `{"data": null, "errors": [{code, message}]}`.',
        {bland.PATH: {"post": operation}},
        {
            "blandApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "authorization",
                "description": "The org's API key as is, as Bland sends it (`Bearer <key>` "
                "works too)",
            }
        },
    )


# -- Pingback ----------------------------------------------------------------------------


def _pingback(schemas: SchemaSet) -> ApiSection:
    (body,) = schemas.requests([pingback.MessageBody], "Pingback")
    error = schemas.add("PingbackError", _vendor_error(pingback.ERRORS, "code", "message"))
    attachment = schemas.add(
        "PingbackAttachment",
        _object(
            id=SHA256,
            url={"type": "string"},
            name=_TEXT_OR_NULL,
            mime_type={"type": "string"},
            size={"type": "integer", "minimum": 1},
        ),
    )
    message = _object(
        id={"type": "string"},
        conversation_id={"type": "string"},
        sender_type={"const": "agent"},
        sender_id=_TEXT_OR_NULL,
        content={"type": "string"},
        attachments={"type": "array", "items": attachment},
        created_at=_TIME,
    )
    base = "/api/v1/conversations/{conversation_id}"
    conversation = path_parameter("conversation_id", _UUID, "A malformed id is not found")
    send = {
        "operationId": "PingbackSendMessage",
        "summary": "An agent's message, with uploaded files as attachments",
        "tags": ["Pingback"],
        "parameters": [conversation, idempotency_key()],
        "requestBody": {"required": True, "content": json_content(body)},
        "responses": {
            "201": answer("The stored message", json_content(message)),
            **_errors(pingback.ERRORS, (*_ANY, *_BODY, *_SEND), error),
        },
    }
    upload = {
        "operationId": "PingbackUpload",
        "summary": "Upload a file (multipart/form-data, one part 'file'); needs a Content-Length",
        "tags": ["Pingback"],
        "parameters": [conversation],
        "requestBody": upload_body(),
        "responses": {
            "201": answer("The attachment to send", json_content(attachment)),
            **_errors(
                pingback.ERRORS,
                (*_ANY, E.NOT_FOUND, E.VALIDATION_ERROR, E.PAYLOAD_TOO_LARGE),
                error,
            ),
        },
    }
    return ApiSection(
        "Pingback",
        "Pingback's agent messages with uploads (docs/dialects.md). Errors are "
        '`{"code", "message", "details"?}`.',
        {f"{base}/messages": {"post": send}, f"{base}/upload": {"post": upload}},
    )


# -- Awardee -----------------------------------------------------------------------------


def _awardee(schemas: SchemaSet) -> ApiSection:
    message_body, status_body = schemas.requests(
        [awardee.MessageBody, awardee.StatusBody], "Awardee"
    )
    error = schemas.add(
        "AwardeeError", _vendor_error(awardee.ERRORS, "error", "message", "request_id")
    )
    part = {
        "type": "object",
        "required": ["order"],
        "properties": {
            "order": {"type": "integer", "minimum": 0},
            "text": {"type": "string"},
            "file_url": {"type": "string"},
            "file_media_type": {"type": "string"},
            "file_filename": {"type": "string"},
        },
    }
    message = schemas.add(
        "AwardeeMessage",
        _object(
            object={"const": "message"},
            id={"type": "string"},
            conversation_id={"type": "string"},
            role={"enum": sorted(set(awardee.ROLES.values()))},
            metadata={"type": "object"},
            parts={"type": "array", "items": part},
            created_at=_TIME,
        ),
    )
    page = _object(
        object={"const": "list"},
        data={"type": "array", "items": message},
        has_more={"type": "boolean"},
    )
    conversation = _object(
        object={"const": "conversation"},
        id={"type": "string"},
        status={"enum": sorted(s.value for s in Status)},
        created_at=_TIME,
        updated_at=_TIME,
    )
    conversation_id = path_parameter("conversation_id", _UUID, "A malformed id is not found")
    query = [
        {
            "name": "after_seq",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "maximum": fields.MAX_SEQ, "default": 0},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
        },
    ]
    send = {
        "operationId": "AwardeeSendMessage",
        "summary": "A human agent's message (takes the conversation over from the bot)",
        "tags": ["Awardee"],
        "parameters": [conversation_id, idempotency_key()],
        "requestBody": {"required": True, "content": json_content(message_body)},
        "responses": {
            "201": answer("The stored message", json_content(message)),
            **_errors(awardee.ERRORS, (*_ANY, *_BODY, *_SEND), error),
        },
    }
    listing = {
        "operationId": "AwardeeListMessages",
        "summary": "The conversation's messages in order",
        "tags": ["Awardee"],
        "parameters": [conversation_id, *query],
        "responses": {
            "200": answer("A page of messages", json_content(page)),
            **_errors(
                awardee.ERRORS, (*_ANY, E.BAD_REQUEST, E.NOT_FOUND, E.VALIDATION_ERROR), error
            ),
        },
    }
    update = {
        "operationId": "AwardeeUpdateConversation",
        "summary": "Change the conversation's status (lifecycle rules; never bot_active)",
        "tags": ["Awardee"],
        "parameters": [conversation_id],
        "requestBody": {"required": True, "content": json_content(status_body)},
        "responses": {
            "200": answer("The conversation", json_content(conversation)),
            **_errors(
                awardee.ERRORS,
                (*_ANY, *_BODY, E.NOT_FOUND, E.INVALID_STATE, E.CONTROL_LOST),
                error,
            ),
        },
    }
    return ApiSection(
        "Awardee",
        "Awardee's human takeover with image attachments (docs/dialects.md). Errors are "
        '`{"error", "message", "request_id", "details"?}`.',
        {
            "/conversations/{conversation_id}/messages": {"post": send, "get": listing},
            "/conversations/{conversation_id}": {"patch": update},
        },
    )


# -- LiveChatAI --------------------------------------------------------------------------


def _livechatai(schemas: SchemaSet) -> ApiSection:
    (body,) = schemas.requests([livechatai.AskBody], "LiveChatAI")
    error = schemas.add(
        "LiveChatAIError",
        {
            "type": "object",
            "required": ["status", "message", "code"],
            "properties": {
                "status": {"const": "error"},
                "message": {"type": "string"},
                "code": {"enum": _vendor_codes(livechatai.ERRORS)},
                "details": {},
            },
        },
    )
    data = _object(
        conversationId={"type": "string"},
        contactId=_TEXT_OR_NULL,
        response=_TEXT_OR_NULL,
        messageId={"type": "string"},
        responseMessageId=_TEXT_OR_NULL,
        links={
            "type": "array",
            "items": _object(link={"type": "string"}, type={"const": "WEBSITE"}),
        },
    )
    sent = schemas.add(
        "LiveChatAIAnswer",
        _object(
            status={"const": "success"},
            message={"const": "Message sent successfully"},
            data=data,
        ),
    )
    operation = {
        "operationId": "LiveChatAIAsk",
        "summary": "Ask a bot (agentId) a question, in a new conversation or one of the bot's",
        "description": "The answer comes back whole, or with `streaming: true` as "
        "Server-Sent Events: `start`, `delta`s, then `done` with the same body, or `error` "
        "when the answer was not stored after all (docs/dialects.md).",
        "tags": ["LiveChatAI"],
        "parameters": [idempotency_key()],
        "requestBody": {"required": True, "content": json_content(body)},
        "responses": {
            "200": answer(
                "The stored question and the bot's answer (`response` null when the bot does "
                "not answer: a human has the conversation)",
                {
                    **json_content(sent),
                    "text/event-stream": {"schema": {"type": "string"}},
                },
            ),
            **_errors(
                livechatai.ERRORS,
                (*_ANY, *_BODY, *(code for code in _SEND if code is not E.CONTROL_LOST)),
                error,
            ),
        },
    }
    return ApiSection(
        "LiveChatAI",
        "LiveChatAI's ask-the-bot API (docs/dialects.md). Errors are "
        '`{"status": "error", "message", "code", "details"?}`.',
        {livechatai.PATH: {"post": operation}},
    )


# -- shapes ------------------------------------------------------------------------------


def _object(**properties: Any) -> dict[str, Any]:
    """An answer object: every property always present."""
    return {"type": "object", "required": list(properties), "properties": properties}


def _vendor_error(table: ErrorTable, code: str, *texts: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [code, *texts],
        "properties": {
            code: {"enum": _vendor_codes(table)},
            **{text: {"type": "string"} for text in texts},
            "details": {},
        },
    }
