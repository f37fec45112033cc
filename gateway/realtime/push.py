"""A ``Push``: one event frame, encoded at most once per codec, shared by every session.

The broker carries the msgpack encoding of the event frame itself, so msgpack sessions send
the broker payload untouched and JSON sessions share one orjson encoding per node.
"""

from __future__ import annotations

from typing import Any

from protocol.encoding import Codec, encode_json, pack, unpack
from protocol.events import Event, to_frame

__all__ = ["Push"]


class Push:
    """An event frame plus its lazily computed encodings."""

    __slots__ = ("_json", "conversation_id", "event", "frame", "payload", "seq")

    def __init__(self, frame: dict[str, Any], payload: bytes) -> None:
        self.frame = frame
        self.payload = payload
        self.event: str = frame["event"]
        self.conversation_id: str = frame["conversation_id"]
        self.seq: int | None = frame["seq"]
        self._json: str | None = None

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
