"""The bare relay: a ``websockets`` asyncio server and a redis-py pub/sub relay between nodes,
one process per node, nothing stored. What a competent engineer writes when all a chat needs
is "what one member sends, every member of the room gets".

    python -m bench.baselines.relay --port 9001 --redis-url redis://127.0.0.1:6379

It speaks the part of chatgate's socket protocol that ``fanout`` and ``idle`` use (JSON text
frames, replies matched by ``ref``), so the harness loads it as it loads chatgate:

- ``hello`` first, within 5 s (else close 4001). The token is not checked: a bare relay has no
  accounts.
- ``subscribe {conversation_id}`` joins the room and answers ``{"last_seq": n}``;
  ``unsubscribe`` leaves it. A node subscribes to a room's Redis channel while it has a local
  member there, and answers ``subscribe`` once Redis confirmed it.
- ``message.send {conversation_id, content}`` numbers the message, publishes its event frame
  (encoded once, by the sender's node) to the room's channel, and answers ``{"seq": n}`` once
  Redis took it.
- Every node, the sender's included, writes what Redis hands back to its local members with
  ``websockets.broadcast``: the same bytes to every socket, no queue per socket.

Where ``seq`` comes from: a counter per room in the memory of the node that publishes. The
harness checks every delivery against a gap-free sequence per room, and a relay that stores
nothing has no shared order; the publishing node's counter is the cheapest source of one, and
it is exact because ``fanout`` and ``idle`` publish each room's messages through one node (one
publisher per room; the harness asks that node for the final ``last_seq``). ``INCR`` in Redis
would cost a round trip per message that a bare relay does not pay, and numbers chosen by the
sender would need a protocol of their own. Order holds per publishing connection: a
connection's frames are handled one after the other, each publish awaited.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from http import HTTPStatus
from typing import Any

import orjson
import redis.asyncio as redis
import uvloop
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

__all__ = ["Relay", "main"]

#: Seconds a new connection has to say hello (as chatgate).
HELLO_SECONDS = 5.0
#: Largest inbound frame (as chatgate).
MAX_FRAME = 64 * 1024
#: Seconds between server pings (chatgate's default).
PING_INTERVAL = 20.0

JSON = dict[str, Any]


class Relay:
    """One node: its rooms, their Redis subscriptions, and the counters of what it published."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self.pubsub = client.pubsub()
        #: Local members per Redis channel.
        self.members: dict[bytes, set[ServerConnection]] = {}
        #: Per channel this node subscribed to, done once Redis confirmed it.
        self.subscribed: dict[bytes, asyncio.Future[None]] = {}
        #: The last seq this node gave per channel.
        self.counters: dict[bytes, int] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect the PubSub and read it. Before any subscribe: redis-py's PubSub takes its
        connection on first use, and two first subscribes at once would each take one (the
        first one's confirmations would then never be read)."""
        await self.pubsub.connect()  # type: ignore[no-untyped-call]
        self._reader = asyncio.create_task(self._read())

    async def handle(self, ws: ServerConnection) -> None:
        """A connection's life: hello, then its frames in order until it closes."""
        joined: set[bytes] = set()
        try:
            try:
                async with asyncio.timeout(HELLO_SECONDS):
                    hello = orjson.loads(await ws.recv(decode=False))
            except (TimeoutError, orjson.JSONDecodeError):
                await ws.close(4001, "hello expected")
                return
            if not isinstance(hello, dict) or hello.get("op") != "hello":
                await ws.close(4001, "hello expected")
                return
            await _reply(ws, hello, {})
            while True:
                try:
                    frame = orjson.loads(await ws.recv(decode=False))
                except orjson.JSONDecodeError:
                    await ws.close(4400, "not JSON")
                    return
                if not isinstance(frame, dict):
                    await ws.close(4400, "not an object")
                    return
                await self._dispatch(ws, frame, joined)
        except ConnectionClosed:
            pass
        finally:
            for channel in joined:
                await self.leave(channel, ws)

    async def _dispatch(self, ws: ServerConnection, frame: JSON, joined: set[bytes]) -> None:
        op = frame.get("op")
        if op == "ping":
            await _reply(ws, frame, {})
            return
        cid = frame.get("conversation_id")
        if op not in {"subscribe", "unsubscribe", "message.send"} or not isinstance(cid, str):
            await _refuse(ws, frame, "validation_error", "unknown op or no conversation_id")
            return
        channel = b"room:" + cid.encode()
        if op == "subscribe":
            await self.join(channel, ws)
            joined.add(channel)
            await _reply(ws, frame, {"last_seq": self.counters.get(channel, 0)})
        elif op == "unsubscribe":
            joined.discard(channel)
            await self.leave(channel, ws)
            await _reply(ws, frame, {})
        else:
            seq = self.counters[channel] = self.counters.get(channel, 0) + 1
            event = {
                "op": "event",
                "event": "new_message",
                "conversation_id": cid,
                "seq": seq,
                "data": {"content": frame.get("content")},
            }
            await self.redis.publish(channel, orjson.dumps(event))
            await _reply(ws, frame, {"seq": seq})

    async def join(self, channel: bytes, ws: ServerConnection) -> None:
        """Add a local member; the first one subscribes the node to the channel."""
        self.members.setdefault(channel, set()).add(ws)
        ready = self.subscribed.get(channel)
        if ready is None:
            ready = self.subscribed[channel] = asyncio.get_running_loop().create_future()
            await self.pubsub.subscribe(channel)
        await ready

    async def leave(self, channel: bytes, ws: ServerConnection) -> None:
        """Remove a local member; the last one unsubscribes the node."""
        members = self.members.get(channel)
        if members is None:
            return
        members.discard(ws)
        if not members:
            del self.members[channel]
            self.subscribed.pop(channel, None)
            await self.pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            message = await self.pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind, channel = message["type"], message["channel"]
            if kind == "message":
                members = self.members.get(channel)
                if members:
                    broadcast(members, message["data"], text=True)
            elif kind == "subscribe":
                ready = self.subscribed.get(channel)
                if ready is not None and not ready.done():
                    ready.set_result(None)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pubsub.aclose()
        await self.redis.aclose()


async def _reply(ws: ServerConnection, frame: JSON, data: JSON) -> None:
    body = {"op": "reply", "ref": frame.get("ref"), "ok": True, "data": data}
    await ws.send(orjson.dumps(body), text=True)


async def _refuse(ws: ServerConnection, frame: JSON, code: str, message: str) -> None:
    error = {"code": code, "message": message}
    body = {"op": "reply", "ref": frame.get("ref"), "ok": False, "error": error}
    await ws.send(orjson.dumps(body), text=True)


def _health(connection: ServerConnection, request: Request) -> Response | None:
    """``GET /readyz`` and ``/healthz`` answer 200 (the harness waits for it)."""
    if request.path in {"/readyz", "/healthz"}:
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def _serve(host: str, port: int, redis_url: str) -> None:
    relay = Relay(redis.Redis.from_url(redis_url))
    await relay.start()
    server: Server
    async with serve(
        relay.handle,
        host,
        port,
        process_request=_health,
        compression=None,
        max_size=MAX_FRAME,
        ping_interval=PING_INTERVAL,
    ) as server:
        try:
            await server.serve_forever()
        finally:
            await relay.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines.relay", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(_serve(args.host, args.port, args.redis_url))


if __name__ == "__main__":
    main()
