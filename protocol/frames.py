"""Socket frames: what a client sends (ops) and what the server sends back (replies, events).

Client frame::

    {"op": "message.send", "ref": "c1", "conversation_id": "...", "content": "hi"}

Server frames::

    {"op": "reply", "ref": "c1", "ok": true, "data": {...}}
    {"op": "reply", "ref": "c1", "ok": false, "error": {"code": "...", "message": "..."}}
    {"op": "event", "event": "new_message", "conversation_id": "...", "seq": 7, "data": {...}}

A server frame may also be an array of such objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final
from uuid import UUID

from msgspec import UNSET, Meta, UnsetType

from protocol.codes import ErrorCode
from protocol.commands import (
    MarkRead,
    SendMessage,
    SetPresence,
    SetTyping,
    SetViewing,
    UpdateConversation,
)
from protocol.errors import GatewayError, ProtocolError
from protocol.fields import Seq
from protocol.validation import parse

__all__ = [
    "OPS",
    "ClientFrame",
    "Hello",
    "Ping",
    "Ref",
    "Subscribe",
    "Unsubscribe",
    "read_frame",
    "reply_error",
    "reply_ok",
]

#: The client's correlation id, echoed on the reply.
Ref = str | int | None

MAX_REF_CHARS = 128
MAX_RESUME = 100


@dataclass(frozen=True, slots=True)
class Hello:
    """First frame: authenticate, and optionally resume conversations from a seq."""

    token: Annotated[str, Meta(min_length=1, max_length=4096)]
    resume: Annotated[dict[UUID, Annotated[int, Meta(ge=0)]], Meta(max_length=MAX_RESUME)] = field(
        default_factory=dict
    )


#: JSON Schema of "either ``conversation_id`` or ``inbox: true``" (``__post_init__``).
_ONE_TARGET: Final[Mapping[str, Any]] = {
    "oneOf": [
        {"required": ["conversation_id"], "properties": {"inbox": {"const": False}}},
        {
            "required": ["inbox"],
            "properties": {"inbox": {"const": True}},
            "not": {"required": ["conversation_id"]},
        },
    ]
}


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Follow one conversation (from ``after_seq`` if given) or, for agents, the org inbox."""

    conversation_id: UUID | UnsetType = UNSET
    inbox: bool = False
    after_seq: Seq | UnsetType = UNSET

    schema_rules: ClassVar[Mapping[str, Any]] = _ONE_TARGET

    def __post_init__(self) -> None:
        if self.inbox == (self.conversation_id is not UNSET):
            raise ValueError("give either conversation_id or inbox: true")


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    conversation_id: UUID | UnsetType = UNSET
    inbox: bool = False

    schema_rules: ClassVar[Mapping[str, Any]] = _ONE_TARGET

    def __post_init__(self) -> None:
        if self.inbox == (self.conversation_id is not UNSET):
            raise ValueError("give either conversation_id or inbox: true")


@dataclass(frozen=True, slots=True)
class Ping:
    pass


#: Every op a client may send, and the type its frame validates against.
OPS: Final[Mapping[str, type[Any]]] = {
    "hello": Hello,
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "message.send": SendMessage,
    "conversation.update": UpdateConversation,
    "typing": SetTyping,
    "read": MarkRead,
    "presence": SetPresence,
    "viewing": SetViewing,
    "ping": Ping,
}


@dataclass(frozen=True, slots=True)
class ClientFrame:
    """A validated client frame: its op name, its ref and its typed body."""

    op: str
    ref: Ref
    body: Any


def read_frame(obj: Any) -> ClientFrame:
    """Validate a decoded client frame.

    Raises:
        ProtocolError: ``bad_request`` when the frame is not an object with a string ``op``,
            ``unknown_op`` for an op we do not know, ``validation_error`` for a bad body.
            The error's ``ref`` is set when it could be read, so the reply can still be
            correlated.
    """
    if not isinstance(obj, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a frame must be an object")
    ref = _read_ref(obj.get("ref"))
    op = obj.get("op")
    if not isinstance(op, str):
        raise _with_ref(ProtocolError(ErrorCode.BAD_REQUEST, "a frame needs a string 'op'"), ref)
    cls = OPS.get(op)
    if cls is None:
        raise _with_ref(ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {op[:64]!r}"), ref)
    try:
        body = parse(cls, obj)
    except ProtocolError as exc:
        raise _with_ref(exc, ref) from None
    return ClientFrame(op, ref, body)


def _read_ref(value: Any) -> Ref:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= MAX_REF_CHARS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53:
        return value
    raise ProtocolError(
        ErrorCode.BAD_REQUEST, f"'ref' must be a string of at most {MAX_REF_CHARS} chars or an int"
    )


def _with_ref(exc: ProtocolError, ref: Ref) -> ProtocolError:
    exc.ref = ref
    return exc


def reply_ok(ref: Ref, data: Any = None) -> dict[str, Any]:
    return {"op": "reply", "ref": ref, "ok": True, "data": data if data is not None else {}}


def reply_error(ref: Ref, error: GatewayError) -> dict[str, Any]:
    return {"op": "reply", "ref": ref, "ok": False, "error": error.to_wire()}
