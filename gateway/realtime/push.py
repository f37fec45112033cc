"""A ``Push``: one event frame, encoded at most once per codec, shared by every session.

The broker carries the msgpack encoding of the event frame itself, so msgpack sessions send
the broker payload untouched and JSON sessions share one orjson encoding per node. Under
chatgate's own socket layer a session takes the complete WebSocket frame (``framed``): built
once per codec from that encoding, the same bytes written to every socket.

**Audiences.** Staff sockets (agents, API keys) get every event as published. Other sockets
(visitors, bots) get ``for_visitors()``: nothing of a private note, ``viewing`` or
``presence``, and a
``typing`` without the fields only staff see (an agent's ``agent_id`` and ``name``). That
variant is derived once per node from the frame the broker carried and shared the same way, so
an event is still encoded at most once per codec and audience.
"""

from __future__ import annotations

from typing import Any, Final

from gateway.realtime.wire.framing import binary_frame, text_frame
from protocol.encoding import Codec, encode_json, pack, unpack
from protocol.events import Event, EventName, to_frame

__all__ = ["Push"]

#: Events only staff sockets receive.
STAFF_EVENTS: Final = frozenset({EventName.VIEWING.value, EventName.PRESENCE.value})
#: Fields of an event's ``data`` only staff sockets receive.
STAFF_FIELDS: Final = {EventName.TYPING.value: ("agent_id", "name")}
_UNKNOWN: Final = object()


class Push:
    """An event frame plus its lazily computed encodings."""

    __slots__ = (
        "_binary_frame",
        "_json",
        "_public",
        "_text_frame",
        "conversation_id",
        "event",
        "frame",
        "payload",
        "seq",
    )

    def __init__(self, frame: dict[str, Any], payload: bytes) -> None:
        self.frame = frame
        self.payload = payload
        self.event: str = frame["event"]
        self.conversation_id: str | None = frame["conversation_id"]
        self.seq: int | None = frame["seq"]
        self._json: str | None = None
        self._text_frame: bytes | None = None
        self._binary_frame: bytes | None = None
        self._public: Any = _UNKNOWN

    @classmethod
    def from_event(cls, event: Event) -> Push:
        frame = to_frame(event)
        return cls(frame, pack(frame))

    @classmethod
    def from_payload(cls, payload: bytes) -> Push:
        """Decode a broker payload. Raises ``ProtocolError`` if it is not an event frame."""
        frame = unpack(payload)
        return cls(frame, payload)

    def encoded(self, codec: Codec) -> str | bytes:
        if codec.binary:
            return self.payload
        if self._json is None:
            self._json = encode_json(self.frame).decode()
        return self._json

    def framed(self, codec: Codec) -> bytes:
        """The whole WebSocket frame of this event in ``codec``: built once, written to
        every socket of that codec."""
        if codec.binary:
            if self._binary_frame is None:
                self._binary_frame = binary_frame(self.payload)
            return self._binary_frame
        if self._text_frame is None:
            self._text_frame = text_frame(encode_json(self.frame))
        return self._text_frame

    def for_visitors(self) -> Push | None:
        """What a socket that is not staff gets of this event: itself, a copy without the
        staff-only fields, or None (a private note, a ``viewing``)."""
        if self._public is _UNKNOWN:
            self._public = self._public_variant()
        public: Push | None = self._public
        return public

    def _public_variant(self) -> Push | None:
        data = self.frame.get("data")
        if self.event in STAFF_EVENTS or (
            self.event == EventName.NEW_MESSAGE.value
            and isinstance(data, dict)
            and data.get("private") is True
        ):
            return None
        hidden = STAFF_FIELDS.get(self.event, ())
        if not isinstance(data, dict) or not any(name in data for name in hidden):
            return self
        frame = {**self.frame, "data": {k: v for k, v in data.items() if k not in hidden}}
        return Push(frame, pack(frame))
