"""The load generator's WebSocket client: picows (Cython framing, callbacks, no task per frame)
so that one client process can take tens of thousands of frames a second.

A ``Socket`` speaks chatgate's JSON protocol: ``hello``, requests matched to replies by
``ref``, and every event handed to ``on_event`` with the monotonic time it arrived (the
clock is system-wide on Linux, so a send time written by another process compares).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

__all__ = ["ClosedError", "OnEvent", "RequestError", "Socket"]

OnEvent = Callable[["Socket", dict[str, Any], int], None]


class RequestError(Exception):
    """The gateway answered a request with ``ok: false``."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code: str = error.get("code", "")


class ClosedError(Exception):
    """The socket closed before the reply came."""


class Socket(WSListener):
    """One chatgate socket. Build with ``await Socket.open(...)``."""

    def __init__(self, on_event: OnEvent | None) -> None:
        self.on_event = on_event
        self.transport: WSTransport | None = None
        self.replies: dict[int, asyncio.Future[Any]] = {}
        self.close_code: int | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.hello: dict[str, Any] = {}
        self.frames = 0
        self._ref = 0

    @classmethod
    async def open(
        cls,
        url: str,
        token: str,
        *,
        on_event: OnEvent | None = None,
        resume: dict[str, int] | None = None,
        source: str | None = None,
        within: float = 30.0,
    ) -> Socket:
        """Connect (from loopback address ``source`` if given) and say hello.

        Raises:
            RequestError: the hello was refused.
            ClosedError, OSError, TimeoutError: the connection failed.
        """
        created: list[Socket] = []

        def factory() -> Socket:
            created.append(cls(on_event))
            return created[0]

        connect: Any = None
        if source is not None:

            def connect(parsed: Any) -> socket.socket:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.bind((source, 0))
                sock.setblocking(False)
                return sock

        async with asyncio.timeout(within):
            await ws_connect(
                factory, url, socket_factory=connect, websocket_handshake_timeout=within
            )
            if not created or created[0].transport is None:
                # picows returns without a listener when the server closes before answering
                # the upgrade (a gateway out of file descriptors does that).
                raise ClosedError("closed before the WebSocket handshake")
            sock = created[0]
            try:
                sock.hello = await sock.greet(token, resume)
            except BaseException:
                sock.drop()  # a refused or late hello leaves nothing open behind it
                raise
        return sock

    async def greet(self, token: str, resume: dict[str, int] | None) -> dict[str, Any]:
        """The first exchange on a connected socket (``hello``); returns its answer."""
        hello: dict[str, Any] = {"token": token}
        if resume:
            hello["resume"] = resume
        answer: dict[str, Any] = await self.request("hello", **hello)
        return answer

    # -- picows callbacks -----------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        now = time.monotonic_ns()
        kind = frame.msg_type
        if kind is WSMsgType.TEXT:
            self.frames += 1
            decoded = orjson.loads(frame.get_payload_as_bytes())
            if isinstance(decoded, list):
                for item in decoded:
                    self._on_frame(item, now)
            else:
                self._on_frame(decoded, now)
        elif kind is WSMsgType.CLOSE:
            code = frame.get_close_code()
            self.close_code = code.value
            transport.send_close(code)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        for future in self.replies.values():
            if not future.done():
                future.set_exception(ClosedError(f"closed ({self.close_code})"))
        self.replies.clear()
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def _on_frame(self, frame: dict[str, Any], now: int) -> None:
        if frame.get("op") == "event":
            if self.on_event is not None:
                self.on_event(self, frame, now)
            return
        future = self.replies.pop(frame.get("ref"), None)  # type: ignore[arg-type]
        if future is None or future.done():
            return
        if frame.get("ok"):
            future.set_result(frame.get("data"))
        else:
            future.set_exception(RequestError(frame.get("error") or {}))

    # -- sending --------------------------------------------------------------------------

    def send(self, op: str, **fields: Any) -> asyncio.Future[Any]:
        """Send a frame now; the future gets the reply's ``data``."""
        transport, ref, future = self._awaiting_reply()
        fields["op"] = op
        fields["ref"] = ref
        transport.send(WSMsgType.TEXT, orjson.dumps(fields))
        return future

    def _awaiting_reply(self) -> tuple[WSTransport, int, asyncio.Future[Any]]:
        """The open transport, a fresh ref and the future its reply resolves
        (``ClosedError`` once closed)."""
        if self.transport is None or self.closed.done():
            raise ClosedError("socket is closed")
        self._ref += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.replies[self._ref] = future
        return self.transport, self._ref, future

    async def request(self, op: str, **fields: Any) -> Any:
        return await self.send(op, **fields)

    async def last_seq(self, conversation_id: str) -> int:
        """The conversation's last stored seq, as the gateway says now (a subscribe, then an
        unsubscribe): what every follower must end up with, acknowledged to us or not."""
        reply = await self.request("subscribe", conversation_id=conversation_id)
        await self.request("unsubscribe", conversation_id=conversation_id)
        return int(reply["last_seq"])

    def drop(self) -> None:
        """Cut the connection without a close handshake (a client that vanished)."""
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    async def aclose(self) -> None:
        if self.transport is not None and not self.closed.done():
            self.transport.send_close()
            self.transport.disconnect()
            await self.closed
