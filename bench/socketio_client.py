"""The load generator's socket.io mode: socket.io v5 packets in Engine.IO v4 over a raw
WebSocket (``/socket.io/?EIO=4&transport=websocket``), on the same picows client, so that one
generator drives chatgate and the socket.io baseline alike.

A ``SocketIO`` has the interface of ``Socket``: ``send(op, **fields)`` emits event ``op`` with
``fields`` and an acknowledgement id, and the acknowledgement is the reply's data (an
acknowledgement ``{"error": {...}}`` is a refusal). An event ``name`` with payload ``p`` reaches
``on_event`` as chatgate's frame ``{"op": "event", "event": name, "conversation_id":
p.conversation_id, "seq": p.seq, "data": p}``. The packets used:

=========================  ======================================================
``0{"sid": ...}``          server: Engine.IO open
``40{"token": ...}``       client: connect to namespace ``/`` (the hello)
``40{"sid": ...}``         server: connected; ``44{...}`` refused
``42<id>["op", {...}]``    client: an event asking for acknowledgement ``id``
``43<id>[data]``           server: acknowledgement ``id``
``42["name", {...}]``      server: an event
``2`` / ``3``              server ping / client pong (Engine.IO v4: the server pings)
=========================  ======================================================
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from picows import WSFrame, WSMsgType, WSTransport

from bench.client import ClosedError, OnEvent, RequestError, Socket

__all__ = ["PATH", "SocketIO"]

#: The path and query a socket.io server answers WebSocket-only Engine.IO v4 clients on.
PATH = "/socket.io/?EIO=4&transport=websocket"


class SocketIO(Socket):
    """One socket.io connection. Build with ``await SocketIO.open(...)``."""

    def __init__(self, on_event: OnEvent | None) -> None:
        super().__init__(on_event)
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._connected: asyncio.Future[dict[str, Any]] = loop.create_future()

    async def greet(self, token: str, resume: dict[str, int] | None) -> dict[str, Any]:
        if resume:
            raise ValueError("socket.io has no resume")
        await self._opened
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, b"40" + orjson.dumps({"token": token}))
        return await self._connected

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is not WSMsgType.TEXT:
            super().on_ws_frame(transport, frame)  # a close frame
            return
        now = time.monotonic_ns()
        self.frames += 1
        packet = frame.get_payload_as_bytes()
        kind = packet[:2]
        if kind == b"42":
            self._on_event(packet[2:], now)
        elif kind == b"43":
            self._on_ack(packet[2:])
        elif kind[:1] == b"2":
            transport.send(WSMsgType.TEXT, b"3")
        elif kind == b"40":
            if not self._connected.done():
                self._connected.set_result(orjson.loads(packet[2:] or b"{}"))
        elif kind == b"44":
            if not self._connected.done():
                error = orjson.loads(packet[2:] or b"{}")
                self._connected.set_exception(
                    RequestError({"code": "connect_error", "message": error.get("message")})
                )
        elif kind[:1] == b"0" and not self._opened.done():
            self._opened.set_result(None)

    def _on_event(self, body: bytes, now: int) -> None:
        if self.on_event is None:
            return
        name, payload = orjson.loads(body[body.index(b"[") :])[:2]
        frame = {
            "op": "event",
            "event": name,
            "conversation_id": payload.get("conversation_id"),
            "seq": payload.get("seq"),
            "data": payload,
        }
        self.on_event(self, frame, now)

    def _on_ack(self, body: bytes) -> None:
        start = body.index(b"[")
        future = self.replies.pop(int(body[:start]), None)
        if future is None or future.done():
            return
        arguments = orjson.loads(body[start:])
        data = arguments[0] if arguments else None
        if isinstance(data, dict) and "error" in data:
            future.set_exception(RequestError(data["error"] or {}))
        else:
            future.set_result(data)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        # Fail the greeting step under way (the other one is never awaited then).
        waiting = self._connected if self._opened.done() else self._opened
        if not waiting.done():
            waiting.set_exception(ClosedError(f"closed ({self.close_code})"))
        super().on_ws_disconnected(transport)

    def send(self, op: str, **fields: Any) -> asyncio.Future[Any]:
        """Emit ``op`` with ``fields`` now; the future gets the acknowledgement."""
        transport, ref, future = self._awaiting_reply()
        transport.send(WSMsgType.TEXT, b"42%d" % ref + orjson.dumps([op, fields]))
        return future
