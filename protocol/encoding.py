"""Codecs: JSON (orjson, text frames) and msgpack (binary frames).

A codec turns decoded-JSON objects into frame payloads and back. ``decode`` is for what a
client sends (socket frames; REST bodies through ``JSON``): it raises only ``ProtocolError``
(code ``bad_request``), whatever bytes it is given, and refuses a document nested deeper than
``bounds.MAX_DEPTH`` levels (``details.max_depth``) or holding U+0000 in any text. ``join``
packs several already-encoded objects into one array frame, so a batch costs no re-encoding.

Every instant on the wire has one form, ``format_instant``'s: RFC 3339 in UTC with exactly
three fractional digits and ``Z`` (``2025-12-10T19:27:02.941Z``), truncated to the
millisecond. Both codecs (and ``encode_json``, for HTTP bodies) write any ``datetime`` they
meet in that form, so no encoder's own datetime format (orjson's ``+00:00``, its dropped
zero fraction) ever reaches a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, Protocol

import msgpack
import msgspec
import orjson
from msgpack.exceptions import StackError

from protocol.bounds import MAX_DEPTH, check_depth, check_text, too_deep
from protocol.codes import ErrorCode
from protocol.errors import ProtocolError

__all__ = [
    "JSON",
    "MSGPACK",
    "SUBPROTOCOLS",
    "Codec",
    "JsonCodec",
    "MsgpackCodec",
    "encode_json",
    "format_instant",
    "negotiate",
    "pack",
    "unpack",
]

#: Decoded JSON: what ``orjson.loads`` or ``msgpack.unpackb`` returns.
JSONValue = Any


class Codec(Protocol):
    """Encodes frames for one WebSocket subprotocol."""

    @property
    def subprotocol(self) -> str: ...

    @property
    def binary(self) -> bool:
        """True when frames go out as binary WebSocket messages."""
        ...

    def encode(self, obj: JSONValue) -> str | bytes:
        """Encode one object as this codec's frame payload."""
        ...

    def decode(self, data: str | bytes) -> JSONValue:
        """Decode a frame payload.

        Raises:
            ProtocolError: ``bad_request`` if the payload is not valid for this codec.
        """
        ...

    def join(self, encoded: Sequence[Any]) -> str | bytes:
        """Pack objects already encoded by this codec into one array frame."""
        ...


class JsonCodec:
    """``chatgate.json``: UTF-8 JSON in text frames."""

    subprotocol: Final = "chatgate.json"
    binary: Final = False

    def encode(self, obj: JSONValue) -> str:
        return encode_json(obj).decode()

    def decode(self, data: str | bytes) -> JSONValue:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            if exc.msg.startswith("depth limit"):  # more than orjson's own 1024 levels
                raise too_deep() from None
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"malformed JSON: {exc.msg}") from None
        # Fewer brackets than the limit cannot nest deeper than it: skip the walk. JSON
        # strings cannot hold a raw NUL, only the escape: without one, skip that walk too.
        if isinstance(data, str):
            brackets = data.count("{") + data.count("[")
            nul = "\\u0000" in data
        else:
            brackets = data.count(b"{") + data.count(b"[")
            nul = b"\\u0000" in data
        if nul:
            check_text(value)
        return value if brackets <= MAX_DEPTH else check_depth(value)

    def join(self, encoded: Sequence[str]) -> str:
        return "[" + ",".join(encoded) + "]"


class MsgpackCodec:
    """``chatgate.msgpack``: msgpack in binary frames."""

    subprotocol: Final = "chatgate.msgpack"
    binary: Final = True

    def encode(self, obj: JSONValue) -> bytes:
        return pack(obj)

    def decode(self, data: str | bytes) -> JSONValue:
        if isinstance(data, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "chatgate.msgpack expects binary frames")
        value = check_depth(unpack(data))
        return check_text(value) if b"\x00" in data else value

    def join(self, encoded: Sequence[bytes]) -> bytes:
        packer = msgpack.Packer()
        return bytes(packer.pack_array_header(len(encoded))) + b"".join(encoded)


def format_instant(at: datetime) -> str:
    """The wire form of an instant: RFC 3339 in UTC, three fractional digits, ``Z``.

    ``2025-12-10T19:27:02.941Z``, whatever the instant's time zone, and ``.000`` on a whole
    second. Finer precision is truncated, never rounded: rounding could carry an instant
    into the next second (or day, or year) and out of order with the stored values beside it.
    Fixed width, so for instants from year 1 to 9999 the text sorts as the instants do.

    Raises:
        ValueError: for a naive ``datetime`` (it names no instant).
        OverflowError: for an aware one whose UTC time falls outside years 1 to 9999.
    """
    if at.tzinfo is not UTC:
        offset = at.utcoffset()
        if offset is None:
            raise ValueError(f"a naive datetime names no instant: {at!r}")
        at = (at.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    # msgspec writes "YYYY-MM-DDTHH:MM:SS" (four-digit year) several times faster than
    # isoformat; only the fraction is ours.
    text: str = msgspec.to_builtins(at)
    return text[:19] + _MILLISECONDS[at.microsecond // 1000]


_MILLISECONDS: Final = tuple(f".{ms:03d}Z" for ms in range(1000))


def _instant(value: Any) -> str:
    """The encoders' hook for the values they cannot write themselves."""
    if isinstance(value, datetime):
        return format_instant(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def encode_json(obj: JSONValue) -> bytes:
    """JSON bytes of decoded JSON, any ``datetime`` in it as ``format_instant`` writes it."""
    return orjson.dumps(obj, default=_instant, option=orjson.OPT_PASSTHROUGH_DATETIME)


def pack(obj: JSONValue) -> bytes:
    """msgpack-encode decoded JSON (the broker envelope uses this too); any ``datetime`` in it
    goes out as ``format_instant``'s string, never as a msgpack timestamp."""
    return msgpack.packb(obj, use_bin_type=True, default=_instant)  # type: ignore[no-any-return]


def unpack(data: bytes) -> JSONValue:
    """Decode msgpack holding JSON values only.

    Raises:
        ProtocolError: ``bad_request`` for malformed msgpack, for values JSON cannot carry
            (bin, ext and timestamp types, non-string map keys), and for more levels than
            msgpack's own limit (1024).
    """
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            object_hook=_json_object,
            list_hook=_json_array,
            ext_hook=_no_extension,
        )
    except ProtocolError:
        raise
    except StackError:
        raise too_deep() from None
    except Exception as exc:  # msgpack raises ValueError, TypeError, ExtraData...
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"malformed msgpack: {exc}") from None


_JSON_SCALARS = (str, int, float, bool, type(None), list, dict)


def _not_json(value: Any) -> ProtocolError:
    return ProtocolError(
        ErrorCode.BAD_REQUEST, f"msgpack value of type {type(value).__name__} is not JSON"
    )


# msgpack builds containers bottom-up and calls these hooks on each, so checking the direct
# children of every container checks the whole document.
def _json_object(obj: dict[Any, Any]) -> dict[str, Any]:
    for key, value in obj.items():
        if not isinstance(key, str):
            raise _not_json(key)
        if not isinstance(value, _JSON_SCALARS):
            raise _not_json(value)
    return obj


def _json_array(items: list[Any]) -> list[Any]:
    for value in items:
        if not isinstance(value, _JSON_SCALARS):
            raise _not_json(value)
    return items


def _no_extension(code: int, data: bytes) -> Any:
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"msgpack extension type {code} is not JSON")


JSON: Final = JsonCodec()
MSGPACK: Final = MsgpackCodec()
SUBPROTOCOLS: Final[dict[str, Codec]] = {JSON.subprotocol: JSON, MSGPACK.subprotocol: MSGPACK}


def negotiate(offered: Sequence[str]) -> Codec | None:
    """Pick the codec for the client's offered subprotocols, in the client's order.

    Returns ``JSON`` when nothing was offered and ``None`` when nothing offered is ours.
    """
    if not offered:
        return JSON
    for name in offered:
        codec = SUBPROTOCOLS.get(name)
        if codec is not None:
            return codec
    return None
