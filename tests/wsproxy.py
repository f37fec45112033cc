"""A WebSocket proxy between a client and a real gateway, for faults a gateway never makes on
its own: an event frame lost on the way (a gap), a connection cut between a request and its
reply, a gateway that cannot be reached for a while. JSON frames only (it reads them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

__all__ = ["WsProxy", "ws_proxy"]


class WsProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        #: Connections accepted so far (refused ones included).
        self.connections = 0
        #: Every frame a client sent, decoded.
        self.sent: list[dict[str, Any]] = []
        #: Server frames (objects) for which this is true are not passed on.
        self.drop: Callable[[dict[str, Any]], bool] = lambda frame: False
        #: Set: new connections are closed at once (1013, try again later).
        self.refusing = False
        #: Set: the next reply to ``message.send`` is dropped and the client's connection cut.
        self.cut_next_send_reply = False
        self._clients: set[ServerConnection] = set()
        self._send_refs: dict[int, set[Any]] = {}

    def cut(self) -> None:
        """Cuts every client connection (no close frame: as a network that broke)."""
        for ws in list(self._clients):
            ws.transport.abort()

    async def _handle(self, client: ServerConnection) -> None:
        self.connections += 1
        if self.refusing:
            await client.close(1013, "try again later")
            return
        self._clients.add(client)
        try:
            async with connect(
                self.upstream,
                subprotocols=[client.subprotocol or Subprotocol("chatgate.json")],
                compression=None,
                max_size=None,
            ) as server:
                up = asyncio.create_task(self._up(client, server))
                down = asyncio.create_task(self._down(client, server))
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
                for task in (up, down):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                        await task
                if server.close_code is not None:  # the gateway closed: pass its code on
                    await client.close(server.close_code, server.close_reason or "")
        except (OSError, ConnectionClosed):
            pass
        finally:
            self._clients.discard(client)
            client.transport.abort()

    async def _up(self, client: ServerConnection, server: Any) -> None:
        refs = self._send_refs.setdefault(id(client), set())
        async for raw in client:
            frame = json.loads(raw)
            self.sent.append(frame)
            if frame.get("op") == "message.send":
                refs.add(frame.get("ref"))
            await server.send(raw)

    async def _down(self, client: ServerConnection, server: Any) -> None:
        async for raw in server:
            decoded = json.loads(raw)
            frames = decoded if isinstance(decoded, list) else [decoded]
            kept = []
            for frame in frames:
                if self.cut_next_send_reply and self._is_send_reply(client, frame):
                    self.cut_next_send_reply = False
                    client.transport.abort()
                    return
                if not self.drop(frame):
                    kept.append(frame)
            if kept:
                await client.send(json.dumps(kept if isinstance(decoded, list) else kept[0]))

    def _is_send_reply(self, client: ServerConnection, frame: dict[str, Any]) -> bool:
        refs = self._send_refs.get(id(client), set())
        return frame.get("op") == "reply" and frame.get("ref") in refs


@asynccontextmanager
async def ws_proxy(upstream: str) -> AsyncIterator[WsProxy]:
    """A proxy in front of ``upstream`` (``ws://HOST:PORT/ws``); ``proxy.url`` is its own."""
    proxy = WsProxy(upstream)
    async with serve(
        proxy._handle,
        "127.0.0.1",
        0,
        subprotocols=["chatgate.json", "chatgate.msgpack"],  # type: ignore[list-item]
        compression=None,
        max_size=None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        proxy.url = f"ws://127.0.0.1:{port}/ws"
        yield proxy
        proxy.cut()
