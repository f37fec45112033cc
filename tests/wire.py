"""A raw WebSocket client for wire-level tests of ``/ws``: what a client sees on the TCP
connection, byte for byte, rather than what a client library makes of it.

``WireClient`` drives websockets' sans-I/O ``ClientProtocol`` over a plain asyncio connection,
so every frame the server sends is seen, control frames included (pings, pongs, the close
frame and its code), and the end of TCP is observed. ``frame`` builds what a conforming client
never sends (unmasked frames, reserved bits, unknown opcodes, oversized control frames), written
with ``WireClient.send_raw``. ``http_exchange`` sends a hand-written request (a handshake with a
wrong header) and reads the whole HTTP answer up to the end of the connection.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgpack
import orjson
from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from tests.support import timeout

__all__ = ["HttpAnswer", "WireClient", "frame", "http_exchange", "upgrade_request"]

#: A valid ``Sec-WebSocket-Key`` (the RFC 6455 example nonce).
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
READ_SIZE = 65536


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
) -> bytes:
    """One frame, built by hand: any opcode, reserved bits (``rsv``: 0-7, RSV1 the highest),
    masked or not, any length (a control frame over 125 bytes too)."""
    head = (0x80 if fin else 0) | (rsv & 0b111) << 4 | (opcode & 0x0F)
    length = len(payload)
    mask_bit = 0x80 if mask else 0
    if length < 126:
        header = struct.pack("!BB", head, mask_bit | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", head, mask_bit | 126, length)
    else:
        header = struct.pack("!BBQ", head, mask_bit | 127, length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP response as the client read it, and whether the server then ended TCP."""

    status: int
    headers: Headers
    body: bytes
    closed: bool


def upgrade_request(
    host: str,
    *,
    path: str = "/ws",
    method: str = "GET",
    headers: dict[str, str | None] | None = None,
) -> bytes:
    """A handshake request: the standard headers, each replaced by ``headers`` (None drops
    it), plus any others named there."""
    fields: dict[str, str | None] = {
        "Host": host,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    fields.update(headers or {})
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{name}: {value}" for name, value in fields.items() if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def http_exchange(base_url: str, request: bytes, seconds: float = 10) -> HttpAnswer:
    """Send ``request`` on a new connection and read the response up to its body's end, then
    whether the server closes the connection."""
    address = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        async with asyncio.timeout(timeout(seconds)):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
            headers = Headers()
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
            length = headers.get("Content-Length")
            body = await (reader.readexactly(int(length)) if length else reader.read())
            closed = await reader.read(1) == b""
    finally:
        writer.close()
    return HttpAnswer(int(status_line.split()[1]), headers, body, closed)


class WireClient:
    """One socket on ``/ws`` through websockets' sans-I/O client protocol.

    Pings from the server are answered as they are read (as any client library does); every
    frame read is kept in ``frames``, in order, so a test can look at the control frames.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        protocol: ClientProtocol,
        response: Response,
        codec: str,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.protocol = protocol
        self.response = response
        self.binary = codec == "chatgate.msgpack"
        #: The opcode of the last data message ``next_message`` read (TEXT or BINARY).
        self.last_opcode: Opcode | None = None
        #: Every frame the server sent, in order (data fragments, pings, pongs, the close).
        self.frames: list[Frame] = []
        self._pending: list[Frame] = []
        #: Decoded items read but not returned yet (``request`` reads past events).
        self._items: list[Any] = []
        self._refs = 0

    @classmethod
    async def connect(
        cls,
        base_url: str,
        *,
        path: str = "/ws",
        subprotocols: list[str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        lower_case_names: bool = False,
        rcvbuf: int | None = None,
        seconds: float = 10,
    ) -> WireClient:
        """Open ``path`` and complete the handshake (its 101 must come back).

        The codec follows the subprotocol the server chose (JSON when it chose none).
        ``headers`` replace the request's headers of their names (several of one name are
        sent as several lines); ``lower_case_names`` sends every header name in lower case.
        ``rcvbuf`` sets SO_RCVBUF before connecting, for a client whose kernel buffer is
        small (a slow reader).
        """
        address = urlsplit(base_url)
        assert address.hostname is not None and address.port is not None
        # IPPROTO_TCP, or asyncio leaves Nagle on and small frames wait for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (address.hostname, address.port))
        reader, writer = await asyncio.open_connection(sock=sock)
        protocol = ClientProtocol(
            parse_uri(f"ws://{address.netloc}{path}"),
            subprotocols=[Subprotocol(p) for p in subprotocols] if subprotocols else None,
            max_size=None,
        )
        request = protocol.connect()
        for name in {name for name, _ in headers or ()}:
            if name in request.headers:
                del request.headers[name]
        for name, value in headers or ():
            request.headers[name] = value  # Headers appends: a second line of that name
        if lower_case_names:
            request.headers = Headers([(k.lower(), v) for k, v in request.headers.raw_items()])
        protocol.send_request(request)
        writer.write(b"".join(protocol.data_to_send()))
        async with asyncio.timeout(timeout(seconds)):
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise AssertionError("the server ended the connection during the handshake")
                protocol.receive_data(data)
                events = protocol.events_received()
                if events:
                    break
        response = events[0]
        assert isinstance(response, Response)
        if protocol.handshake_exc is not None:
            writer.close()
            raise AssertionError(
                f"handshake refused: {response.status_code} {response.body!r} "
                f"({protocol.handshake_exc})"
            )
        client = cls(reader, writer, protocol, response, protocol.subprotocol or "chatgate.json")
        client._pending = [e for e in events[1:] if isinstance(e, Frame)]
        client.frames.extend(client._pending)
        return client

    # -- sending ---------------------------------------------------------------------------

    def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data:
            self.writer.write(data)

    def send_raw(self, data: bytes) -> None:
        """Bytes as they are, past the protocol's checks (hand-built frames)."""
        self.writer.write(data)

    def send_text(self, data: str | bytes, fin: bool = True) -> None:
        self.protocol.send_text(data.encode() if isinstance(data, str) else data, fin=fin)
        self._flush()

    def send_binary(self, data: bytes, fin: bool = True) -> None:
        self.protocol.send_binary(data, fin=fin)
        self._flush()

    def send_continuation(self, data: bytes, fin: bool) -> None:
        self.protocol.send_continuation(data, fin=fin)
        self._flush()

    def send_ping(self, payload: bytes) -> None:
        self.protocol.send_ping(payload)
        self._flush()

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        self.protocol.send_close(code, reason)
        self._flush()

    def send(self, obj: dict[str, Any]) -> None:
        """One frame in this socket's codec: msgpack in binary, else JSON in text."""
        if self.binary:
            self.send_binary(msgpack.packb(obj))
        else:
            self.send_text(orjson.dumps(obj))

    # -- receiving -------------------------------------------------------------------------

    async def next_frame(self, seconds: float = 10, *, pings: bool = False) -> Frame:
        """The next frame the server sent, control frames included; the server's keepalive
        pings too when ``pings`` (else they are answered and skipped)."""
        async with asyncio.timeout(timeout(seconds)):
            while True:
                received = await self._next_frame()
                if pings or received.opcode is not Opcode.PING:
                    return received

    async def _next_frame(self) -> Frame:
        while not self._pending:
            data = await self.reader.read(READ_SIZE)
            if data:
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()
            new = [e for e in self.protocol.events_received() if isinstance(e, Frame)]
            self.frames.extend(new)
            self._pending.extend(new)
            self._flush()  # pongs to the server's pings, the echo of its close
            if not data and not self._pending:
                raise AssertionError("the server ended TCP without a frame")
        return self._pending.pop(0)

    async def next_message(self, seconds: float = 10) -> Any:
        """The next data message, decoded (an object, or a list of them for a batch);
        control frames are skipped, a close frame fails the test."""
        parts: list[bytes] = []
        async with asyncio.timeout(timeout(seconds)):
            while True:
                received = await self._next_frame()
                if received.opcode is Opcode.CLOSE:
                    raise AssertionError(f"closed while waiting: {Close.parse(received.data)}")
                if received.opcode in (Opcode.PING, Opcode.PONG):
                    continue
                if not parts:
                    self.last_opcode = received.opcode
                parts.append(bytes(received.data))
                if received.fin:
                    break
        data = b"".join(parts)
        return msgpack.unpackb(data) if self.binary else orjson.loads(data)

    async def request(self, op: str, seconds: float = 10, **fields: Any) -> dict[str, Any]:
        """Send ``op`` and return its reply; other frames read on the way are kept for
        ``next_item``."""
        self._refs += 1
        ref = f"w{self._refs}"
        self.send({"op": op, "ref": ref, **fields})
        async with asyncio.timeout(timeout(seconds)):
            while True:
                reply = None
                message = await self.next_message(seconds)
                for item in message if isinstance(message, list) else [message]:
                    if item.get("op") == "reply" and item.get("ref") == ref:
                        reply = dict(item)
                    else:
                        self._items.append(item)
                if reply is not None:
                    return reply

    async def next_item(self, seconds: float = 10) -> dict[str, Any]:
        """The next event or reply, one at a time (a batched frame gives several)."""
        if not self._items:
            message = await self.next_message(seconds)
            self._items.extend(message if isinstance(message, list) else [message])
        return dict(self._items.pop(0))

    async def hello(self, token: str, **fields: Any) -> dict[str, Any]:
        reply = await self.request("hello", token=token, **fields)
        assert reply["ok"], reply
        return dict(reply["data"])

    async def close_frame(self, seconds: float = 10) -> Close:
        """Read up to the server's close frame (data frames before it are skipped)."""
        async with asyncio.timeout(timeout(seconds)):
            while True:
                received = await self._next_frame()
                if received.opcode is Opcode.CLOSE:
                    return Close.parse(received.data)

    async def tcp_ended(self, seconds: float = 10) -> bool:
        """Whether the server ends TCP (EOF or a reset) within ``seconds``; what arrives
        before that is read and kept."""
        try:
            async with asyncio.timeout(timeout(seconds)):
                while True:
                    data = await self.reader.read(READ_SIZE)
                    if not data:
                        return True
                    self.protocol.receive_data(data)
                    self.frames.extend(
                        e for e in self.protocol.events_received() if isinstance(e, Frame)
                    )
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def aclose(self) -> None:
        """Drop the connection (no closing handshake)."""
        self.writer.close()
