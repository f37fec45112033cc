"""Server-to-client WebSocket frames, built once and written to any number of sockets.

A server's frames are never masked (RFC 6455, 5.1) and chatgate negotiates no compression,
so an event's frame is the same bytes on every socket of one codec: the header is a function
of the opcode and the payload's length alone. Building it here costs a few bytes of header
per event instead of a ``websockets`` frame object and its serialization per socket.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["binary_frame", "frame", "text_frame"]

OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
_FIN: Final = 0x80
_SHORT: Final = struct.Struct("!BBH")
_LONG: Final = struct.Struct("!BBQ")


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame carrying ``payload``."""
    length = len(payload)
    first = _FIN | opcode
    if length < 126:
        return bytes((first, length)) + payload
    if length < 1 << 16:
        return _SHORT.pack(first, 126, length) + payload
    return _LONG.pack(first, 127, length) + payload


def text_frame(payload: bytes) -> bytes:
    """A text frame; ``payload`` must be UTF-8."""
    return frame(OP_TEXT, payload)


def binary_frame(payload: bytes) -> bytes:
    return frame(OP_BINARY, payload)
