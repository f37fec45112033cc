"""Test helpers: credentials, a real uvicorn server in a thread, a socket client, deadlines."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
import msgpack
import orjson
import uvicorn
from starlette.types import ASGIApp
from websockets.asyncio.client import ClientConnection, connect

from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.http.server import GatewayHttpProtocol
from gateway.settings import Settings
from gateway.stores import open_store

#: Scales every wait in the suite (slow CI machines: CHATGATE_TEST_TIMEOUT_FACTOR=3).
TIMEOUT_FACTOR = float(os.environ.get("CHATGATE_TEST_TIMEOUT_FACTOR", "1"))


def timeout(seconds: float) -> float:
    return seconds * TIMEOUT_FACTOR


async def eventually(probe: Callable[[], Any], seconds: float, every: float = 0.02) -> Any:
    """Poll ``probe`` until it is truthy, failing after ``seconds`` (scaled). For state that
    offers no event to wait on (another process, a broker's health)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout(seconds)
    while True:
        result = probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout(seconds):.1f}s: {probe}")
        await asyncio.sleep(every)


async def new_org(
    database_url: str,
    name: str,
    origins: tuple[str, ...] = ("*",),
    monthly_message_limit: int | None = None,
) -> OrgCredentials:
    """Create an org straight in the database (what ``chatgate orgs create`` does)."""
    store = open_store(Settings(database_url=database_url))
    await store.start()
    try:
        return await create_org(
            store, name, allowed_origins=origins, monthly_message_limit=monthly_message_limit
        )
    finally:
        await store.aclose()


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


@contextmanager
def live_server(app: ASGIApp, **config: Any) -> Iterator[str]:
    """Serve ``app`` on a real uvicorn (port 0) in a thread; yields ``http://127.0.0.1:PORT``.

    HTTP goes through the gateway's own connection layer (``GatewayHttpProtocol``, with the
    read timeouts of the app's settings), as ``chatgate serve`` runs it.

    uvicorn binds the port itself: a socket handed in with ``sockets=`` must be created with
    ``proto=IPPROTO_TCP``, or asyncio skips TCP_NODELAY on accepted connections and every
    keep-alive response waits 40 ms for a delayed ACK.
    """
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "http": GatewayHttpProtocol,
        "ws": "websockets-sansio",
        "ws_per_message_deflate": False,
        "ws_max_size": Settings().max_frame_bytes,
        "lifespan": "on",
        "log_level": "warning",
        # As ``chatgate serve`` without trusted proxies: X-Forwarded-For is the app's to read.
        "proxy_headers": False,
    }
    options.update(config)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        # uvicorn offers a flag, not an event, for "started": poll it against a deadline.
        deadline = time.monotonic() + timeout(10)
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{options['host']}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout(10))


class SocketClient:
    """A chatgate socket client for tests: replies by ref, events kept in arrival order."""

    def __init__(self, ws: ClientConnection, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.events: list[dict[str, Any]] = []
        self.replies: dict[Any, dict[str, Any]] = {}
        self._refs = itertools.count(1)
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.closed: Exception | None = None

    @classmethod
    async def open(
        cls,
        base_url: str,
        *,
        codec: str = "json",
        origin: str | None = None,
        **kwargs: Any,
    ) -> SocketClient:
        ws = await connect(
            base_url.replace("http://", "ws://") + "/ws",
            subprotocols=[f"chatgate.{codec}"],  # type: ignore[list-item]
            origin=origin,  # type: ignore[arg-type]
            compression=None,
            open_timeout=timeout(10),
            **kwargs,
        )
        return cls(ws, binary=codec == "msgpack")

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = msgpack.unpackb(raw) if self.binary else orjson.loads(raw)
                async with self._changed:
                    for item in frame if isinstance(frame, list) else [frame]:
                        if item.get("op") == "reply":
                            self.replies[item.get("ref")] = item
                        else:
                            self.events.append(item)
                    self._changed.notify_all()
        except Exception as exc:  # connection closed: remembered for wait_closed
            self.closed = exc
        finally:
            if self.closed is None:
                self.closed = ConnectionError("closed")
            async with self._changed:
                self._changed.notify_all()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(frame) if self.binary else orjson.dumps(frame).decode())

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send ``op`` with a fresh ref and return its reply (ok or not)."""
        ref = f"r{next(self._refs)}"
        await self.send({"op": op, "ref": ref, **fields})
        return await self.wait_for(lambda: self.replies.get(ref))

    async def call(self, op: str, **fields: Any) -> Any:
        """Like ``request`` but expects success and returns ``data``."""
        reply = await self.request(op, **fields)
        assert reply["ok"], reply
        return reply["data"]

    async def hello(self, token: str, **fields: Any) -> Any:
        return await self.call("hello", token=token, **fields)

    async def wait_for(self, probe: Callable[[], Any], seconds: float = 10) -> Any:
        async with asyncio.timeout(timeout(seconds)), self._changed:
            while True:
                found = probe()
                if found:
                    return found
                if self.closed is not None:
                    raise AssertionError(f"socket closed while waiting: {self.closed!r}")
                await self._changed.wait()

    async def wait_events(
        self, count: int, *, name: str | None = None, seconds: float = 10
    ) -> list[dict[str, Any]]:
        def matching() -> list[dict[str, Any]]:
            return [e for e in self.events if name is None or e["event"] == name]

        await self.wait_for(lambda: len(matching()) >= count, seconds)
        return matching()

    async def wait_closed(self, seconds: float = 10) -> int | None:
        """The close code the server sent."""
        async with asyncio.timeout(timeout(seconds)):
            await self.ws.wait_closed()
        return self.ws.close_code

    async def aclose(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def api(
    http: httpx.AsyncClient, method: str, path: str, credential: str | None = None, **kw: Any
) -> Any:
    """A REST call that must succeed; returns the JSON body."""
    headers = kw.pop("headers", {})
    if credential is not None:
        headers.update(bearer(credential))
    response = await http.request(method, path, headers=headers, **kw)
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()
