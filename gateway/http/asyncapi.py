"""The AsyncAPI 3.0 document of the socket protocol (``GET /asyncapi.json``).

One channel, ``/ws``: what a client sends (one message per op of ``protocol.frames.OPS``,
its payload generated from the op's type, as ``read_frame`` validates it), what the server
answers (a reply per op, or an error reply), the events it pushes (``protocol.events``),
and the array frames that batch them (messages ``event.<name>`` and ``batch``). Each op is an
operation with its reply; the close
codes (``protocol.codes.CloseCode``) are in the channel's description and under
``x-close-codes``. Payload schemas are JSON Schema draft 07 (AsyncAPI's default schema
format), built by the same ``SchemaSet`` as the OpenAPI document, so both state the same
rules. docs/protocol.md explains the protocol in prose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gateway.core.results import AgentPresence, ReadPosition
from gateway.http.schemas import SchemaSet
from protocol.codes import HTTP_STATUS, CloseCode
from protocol.encoding import SUBPROTOCOLS
from protocol.events import EventName
from protocol.frames import MAX_REF_CHARS, OPS
from storage.models import Conversation, Message

__all__ = ["CLOSE_CODES", "asyncapi_document"]

REF: Final = "#/components/schemas/{name}"
CHANNEL: Final = "#/channels/socket"

#: What each close code tells a client to do (protocol/codes.py has the table).
CLOSE_CODES: Final[Mapping[CloseCode, str]] = {
    CloseCode.NORMAL: "the client or the server ended the session",
    CloseCode.GOING_AWAY: "the server is shutting down: reconnect and resume",
    CloseCode.MESSAGE_TOO_BIG: "a frame was over the frame limit (64 KiB)",
    CloseCode.INTERNAL_ERROR: "unexpected server failure: reconnect and resume",
    CloseCode.UNAUTHENTICATED: "no hello in time, a missing or invalid token, or its API key "
    "was revoked: get a new credential",
    CloseCode.FORBIDDEN: "the token may not be used here (origin), or its agent is disabled "
    "or deleted: do not reconnect with it",
    CloseCode.SLOW_CONSUMER: "the client did not read fast enough: reconnect and resume by seq",
    CloseCode.PROTOCOL_ERROR: "the first frame could not be decoded",
}

#: What each op does, and the ``data`` of its successful reply (``None``: a generated type).
_OPS: Final[Mapping[str, tuple[str, Any]]] = {
    "hello": ("The first frame, within 5 s: authenticate; optionally resume conversations", None),
    "subscribe": ("Follow a conversation (from after_seq) or, staff only, the org's inbox", None),
    "unsubscribe": ("Stop following a conversation or the inbox", None),
    "message.send": ("Send a message; the reply carries it, stored, with its seq", Message),
    "conversation.update": ("Change a conversation's status or assignee", Conversation),
    "typing": ("Say the sender is typing (volatile, never stored)", None),
    "read": ("Mark the conversation read up to a seq", ReadPosition),
    "presence": (
        "An agent's socket says it is online or away; resend every 20 s (the heartbeat)",
        AgentPresence,
    ),
    "viewing": ("An agent opened (on) or left a conversation: collision warnings", None),
    "ping": ("Check the session is alive", None),
}
_EVENTS: Final[Mapping[EventName, str]] = {
    EventName.NEW_MESSAGE: "A message was stored; data is the message",
    EventName.CONVERSATION_CREATED: "A conversation started (inbox); seq 0",
    EventName.CONVERSATION_UPDATED: "Fields of a conversation changed: data.changes maps each "
    "to [from, to]",
    EventName.TYPING: "Someone is typing, or stopped (volatile: seq null)",
    EventName.READ: "Someone read up to data.seq (volatile: seq null)",
    EventName.MESSAGE_DELTA: "The next piece of a bot's answer as it streams (volatile: seq "
    "null); the new_message with message.id == data.message_id ends it, or a delta with "
    "done: true says it will not be stored (reason control_lost or failed): drop it",
    EventName.VIEWING: "An agent opened (on) or left a conversation; staff sockets only "
    "(volatile: seq null)",
    EventName.PRESENCE: "An agent's presence changed (inbox; conversation_id null; volatile)",
}


def asyncapi_document(version: str) -> dict[str, Any]:
    schemas = SchemaSet(REF)
    names = list(OPS)
    bodies = schemas.requests([OPS[name] for name in names])
    message, conversation, read, presence = schemas.answers(
        [Message, Conversation, ReadPosition, AgentPresence]
    )
    results = {
        Message: message,
        Conversation: conversation,
        ReadPosition: read,
        AgentPresence: presence,
    }
    ref_schema = {
        "description": "Yours, echoed on the reply",
        "anyOf": [
            {"type": "string", "maxLength": MAX_REF_CHARS},
            {"type": "integer", "minimum": -(2**53) + 1, "maximum": 2**53 - 1},
            {"type": "null"},
        ],
    }
    error = schemas.add(
        "ErrorReply",
        _object(
            op={"const": "reply"},
            ref=ref_schema,
            ok={"const": False},
            error=_object(
                code={"enum": sorted(c.value for c in HTTP_STATUS)},
                message={"type": "string"},
                details={},
                optional=("details",),
            ),
        ),
    )
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, body in zip(names, bodies, strict=True):
        summary, result = _OPS[name]
        frame = {"allOf": [body, _object(op={"const": name}, ref=ref_schema, optional=("ref",))]}
        data = results[result] if result is not None else _reply_data(name, schemas)
        reply = _object(op={"const": "reply"}, ref=ref_schema, ok={"const": True}, data=data)
        messages[name] = {"name": name, "summary": summary, "payload": frame}
        messages[f"{name}.reply"] = {"name": f"{name}.reply", "payload": reply}
        operations[name] = {
            "action": "send",
            "channel": {"$ref": CHANNEL},
            "summary": summary,
            "messages": [{"$ref": f"{CHANNEL}/messages/{name}"}],
            "reply": {
                "channel": {"$ref": CHANNEL},
                "messages": [
                    {"$ref": f"{CHANNEL}/messages/{name}.reply"},
                    {"$ref": f"{CHANNEL}/messages/error"},
                ],
            },
        }
    messages["error"] = {"name": "error", "summary": "A refused frame", "payload": error}
    events = _events(schemas, message, conversation)
    messages.update(events)
    messages["batch"] = {
        "name": "batch",
        "summary": "Several replies and events in one frame, in order",
        "payload": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    *(m["payload"] for m in events.values()),
                    error,
                    *(messages[f"{n}.reply"]["payload"] for n in names),
                ]
            },
        },
    }
    operations["receiveEvents"] = {
        "action": "receive",
        "channel": {"$ref": CHANNEL},
        "summary": "Events of the conversations followed (and the inbox), in seq order",
        "messages": [{"$ref": f"{CHANNEL}/messages/{n}"} for n in [*events, "batch"]],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "chatgate socket protocol",
            "version": version,
            "description": "The WebSocket protocol of chatgate (docs/protocol.md). REST is "
            "described by the OpenAPI document at /openapi.json.",
        },
        "defaultContentType": "application/json",
        "servers": {
            name: {
                "host": "{host}",
                "protocol": name,
                "description": f"The gateway ({name}://)",
                "variables": {"host": {"default": "localhost:8000"}},
            }
            for name in ("ws", "wss")
        },
        "channels": {"socket": _channel(messages)},
        "operations": operations,
        "components": {"schemas": _draft07(schemas.components)},
    }


def _channel(messages: dict[str, Any]) -> dict[str, Any]:
    codes = "\n".join(f"- `{c.value}` {c.name}: {meaning}" for c, meaning in CLOSE_CODES.items())
    return {
        "address": "/ws",
        "title": "The socket",
        "description": (
            "Subprotocol `chatgate.json` (JSON in text frames, the default) or "
            "`chatgate.msgpack` (the same objects as msgpack in binary frames). A client frame "
            "is an object with an `op` and an optional `ref`; the server answers each with a "
            "reply echoing the `ref`, and pushes events. A server frame may be one object or "
            "an array of them. Frames are at most 64 KiB and nest at most 32 levels; no "
            "string holds U+0000.\n\nClose codes:\n" + codes
        ),
        "messages": _draft07(messages),
        "bindings": {
            "ws": {
                "method": "GET",
                "headers": {
                    "type": "object",
                    "properties": {
                        "Sec-WebSocket-Protocol": {"enum": sorted(SUBPROTOCOLS)},
                        "Origin": {"type": "string", "description": "checked for visitors"},
                    },
                },
                "bindingVersion": "0.1.0",
            }
        },
        "x-close-codes": {str(c.value): c.name for c in CLOSE_CODES},
    }


def _events(
    schemas: SchemaSet, message: dict[str, Any], conversation: dict[str, Any]
) -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid"}
    seq = {"type": "integer", "minimum": 0}
    role = {"type": "string"}
    data: dict[EventName, tuple[dict[str, Any], dict[str, Any]]] = {
        EventName.NEW_MESSAGE: (message, seq),
        EventName.CONVERSATION_CREATED: (_object(conversation=conversation), {"const": 0}),
        EventName.CONVERSATION_UPDATED: (
            _object(
                conversation=conversation,
                changes={
                    "type": "object",
                    "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
                },
            ),
            seq,
        ),
        EventName.TYPING: (
            _object(
                on={"type": "boolean"},
                role=role,
                sender_id=_or_null({"type": "string"}),
                agent_id={"type": "string", "description": "an agent's typing, staff only"},
                name=_or_null({"type": "string", "description": "the agent's name, staff only"}),
                optional=("agent_id", "name"),
            ),
            {"type": "null"},
        ),
        EventName.VIEWING: (
            _object(agent_id=uuid, name=_or_null({"type": "string"}), on={"type": "boolean"}),
            {"type": "null"},
        ),
        EventName.PRESENCE: (
            _object(agent_id=uuid, status={"enum": ["online", "away", "offline"]}),
            {"type": "null"},
        ),
        EventName.READ: (
            _object(seq=seq, role=role, reader_id=_or_null({"type": "string"})),
            {"type": "null"},
        ),
        EventName.MESSAGE_DELTA: (
            _object(
                message_id=uuid,
                index={"type": "integer", "minimum": 0},
                text={"type": "string"},
                done={"const": True},
                reason={"enum": ["control_lost", "failed"]},
                optional=("done", "reason"),
            ),
            {"type": "null"},
        ),
    }
    events = {}
    for name, (payload, event_seq) in data.items():
        schema = _object(
            op={"const": "event"},
            event={"const": name.value},
            conversation_id={"type": "null"} if name is EventName.PRESENCE else uuid,
            seq=event_seq,
            data=payload,
        )
        events[f"event.{name.value}"] = {
            "name": name.value,
            "summary": _EVENTS[name],
            "payload": schemas.add(f"Event.{name.value}".replace(".", "_"), schema),
        }
    return events


def _reply_data(op: str, schemas: SchemaSet) -> dict[str, Any]:
    uuid = {"type": "string", "format": "uuid"}
    if op == "hello":
        principal = _object(
            kind={"enum": ["visitor", "agent", "bot", "api_key"]},
            org_id={"type": "string"},
            agent_id={"type": "string"},
            role={"enum": ["admin", "agent"]},
            contact_id={"type": "string"},
            widget_id=_or_null({"type": "string"}),
            optional=("agent_id", "role", "contact_id", "widget_id"),
        )
        resumed = {
            "anyOf": [
                _object(ok={"const": True}, last_seq={"type": "integer", "minimum": 0}),
                _object(ok={"const": False}, error={"type": "object"}),
            ]
        }
        return _object(
            session_id={"type": "string"},
            node={"type": "string"},
            principal=principal,
            resume={"type": "object", "additionalProperties": resumed},
        )
    if op == "subscribe":
        viewer = _object(agent_id=uuid, name=_or_null({"type": "string"}))
        return {
            "anyOf": [
                _object(
                    conversation_id=uuid,
                    last_seq={"type": "integer", "minimum": 0},
                    viewers={
                        "type": "array",
                        "items": viewer,
                        "description": "staff only: the agents that have it open already",
                    },
                    optional=("viewers",),
                ),
                _object(inbox={"const": True}),
            ]
        }
    if op == "unsubscribe":
        return {"anyOf": [_object(conversation_id=uuid), _object(inbox={"const": False})]}
    if op == "ping":
        return _object(pong={"const": True})
    return {"type": "object", "maxProperties": 0}  # typing, viewing


def _object(*, optional: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [name for name in properties if name not in optional],
        "properties": properties,
    }


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _draft07(value: Any) -> Any:
    """``value`` with the JSON Schema 2019+ keywords it uses spelled as draft 07 has them."""
    if isinstance(value, dict):
        return {
            ("dependencies" if key == "dependentSchemas" else key): _draft07(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_draft07(item) for item in value]
    return value
