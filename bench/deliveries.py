"""How fast deliveries go out under load: FIFO against plain endpoints, a hanging receiver
beside a healthy one, and how late a retry goes out.

    python -m bench.deliveries [--database-url URL] [--messages 500] [--backlog 200]

Runs ``chatgate serve`` as a process (SQLite in a temporary directory by default, or the
given database) with a 30 s poll interval and attempt timeout (``--poll`` changes both), so
that nothing measured here can have come from a poll or a timeout, and receivers on this
machine (a Starlette app on uvicorn in this process). Prints one JSON object:

- ``plain_s`` / ``fifo_s``: seconds from the first of ``--messages`` messages (one
  conversation, sent 10 at a time) to the last webhook accepted, on a plain and on a
  ``fifo`` endpoint;
- ``isolation_s``: with ``--backlog`` deliveries waiting for another org's receiver that
  never answers, seconds from a message to its webhook, and from asking for a human to the
  live-agent hand-off;
- ``retry_late_s``: how much later than scheduled (0.2 s) a refused delivery was retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.services import free_port
from gateway.handlers.orgs import OrgCredentials, create_org
from gateway.settings import Settings
from gateway.stores import open_store


@dataclass
class Receiver:
    """Records when each webhook arrived; answers ``refuse`` first, or hangs."""

    url: str = ""
    arrived: list[tuple[float, dict[str, Any], int]] = field(default_factory=list)
    refuse: list[int] = field(default_factory=list)
    hang: bool = False

    def accepted(self) -> list[tuple[float, dict[str, Any], int]]:
        return [a for a in self.arrived if a[2] < 300]

    async def handle(self, request: Request) -> Response:
        body = orjson.loads(await request.body())
        while self.hang:  # noqa: ASYNC110 (let go by the driver when it is done)
            await asyncio.sleep(0.05)
        status = self.refuse.pop(0) if self.refuse else 200
        self.arrived.append((time.monotonic(), body, status))
        return Response(b"ok", status)


@asynccontextmanager
async def serving(receiver: Receiver) -> AsyncIterator[Receiver]:
    port = free_port()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        receiver.hang = False
        server.should_exit = True
        await task


@asynccontextmanager
async def gateway(database_url: str, poll: float) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    env = {
        **os.environ,
        "CHATGATE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "CHATGATE_WEBHOOK_POLL_INTERVAL": str(poll),
        "CHATGATE_WEBHOOK_TIMEOUT": str(poll),
        "CHATGATE_WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.2,2",
        "CHATGATE_LIVE_AGENT_RETRY_SCHEDULE": "0,0.2,0.2,2",
        "CHATGATE_ORG_REQUESTS_PER_MINUTE": "0",
        "CHATGATE_SECRET_KEY": "bench-secret-key-of-a-decent-length!",
        "CHATGATE_LOG_LEVEL": "warning",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "gateway", "serve", "--port", str(port), "--database-url", database_url),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            for _ in range(600):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            yield http
    finally:
        process.terminate()
        await process.wait()


async def call(http: httpx.AsyncClient, method: str, path: str, key: str | None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await http.request(method, path, headers=headers, **kw)
    response.raise_for_status()
    return response.json()


async def send(http: httpx.AsyncClient, key: str, conversation_id: str, count: int) -> None:
    sem = asyncio.Semaphore(10)

    async def one(i: int) -> None:
        async with sem:
            path = f"/v1/conversations/{conversation_id}/messages"
            await call(http, "POST", path, key, json={"content": f"m{i}", "role": "bot"})

    await asyncio.gather(*(one(i) for i in range(count)))


async def until(probe: Callable[[], bool], seconds: float = 120) -> float:
    """Wait for ``probe``; returns when it became true (``time.monotonic``)."""
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done within {seconds} s")
        await asyncio.sleep(0.002)
    return time.monotonic()


async def stream(http: httpx.AsyncClient, org: OrgCredentials, n: int, **hook: Any) -> float:
    """Seconds from the first of ``n`` messages to the last webhook accepted."""
    async with serving(Receiver()) as r:
        fields = {"url": r.url, "event_types": ["message.created"], **hook}
        await call(http, "POST", "/v1/webhooks", org.api_key, json=fields)
        conversation = await call(http, "POST", "/v1/conversations", org.api_key, json={})
        started = time.monotonic()
        await send(http, org.api_key, conversation["id"], n)
        done = await until(lambda: len(r.accepted()) >= n)
        await call(http, "DELETE", f"/v1/webhooks/{(await hooks(http, org))[0]}", org.api_key)
        return done - started


async def hooks(http: httpx.AsyncClient, org: OrgCredentials) -> list[str]:
    listed = await call(http, "GET", "/v1/webhooks", org.api_key)
    return [h["id"] for h in listed["data"]]


async def isolation(
    http: httpx.AsyncClient, stuck: OrgCredentials, other: OrgCredentials, backlog: int
) -> dict[str, float]:
    async with (
        serving(Receiver(hang=True)) as hanging,
        serving(Receiver()) as healthy,
        serving(Receiver()) as platform,
    ):
        fields = {"url": hanging.url, "event_types": ["message.created"]}
        await call(http, "POST", "/v1/webhooks", stuck.api_key, json=fields)
        conversation = await call(http, "POST", "/v1/conversations", stuck.api_key, json={})
        await send(http, stuck.api_key, conversation["id"], backlog)
        fields = {"url": healthy.url, "event_types": ["message.created"]}
        await call(http, "POST", "/v1/webhooks", other.api_key, json=fields)
        elsewhere = await call(http, "POST", "/v1/conversations", other.api_key, json={})
        started = time.monotonic()
        await send(http, other.api_key, elsewhere["id"], 1)
        webhook = await until(lambda: bool(healthy.accepted())) - started
        widget = f"/v1/widgets/{other.widget_id}"
        live = {"live_agent_endpoint_url": platform.url, "live_agent_escalate_after": 0}
        await call(http, "PATCH", widget, other.api_key, json=live)
        session = await call(http, "POST", f"{widget}/sessions", None, json={})
        visitor = await call(http, "POST", "/v1/conversations", session["token"], json={})
        started = time.monotonic()
        path = f"/v1/conversations/{visitor['id']}"
        await call(http, "PATCH", path, session["token"], json={"status": "agent_requested"})
        handoff = await until(lambda: bool(platform.accepted())) - started
        return {"webhook": round(webhook, 3), "hand_off": round(handoff, 3)}


async def retry_lateness(http: httpx.AsyncClient, org: OrgCredentials) -> float:
    async with serving(Receiver(refuse=[503])) as r:
        fields = {"url": r.url, "event_types": ["message.created"], "fifo": True}
        await call(http, "POST", "/v1/webhooks", org.api_key, json=fields)
        conversation = await call(http, "POST", "/v1/conversations", org.api_key, json={})
        await send(http, org.api_key, conversation["id"], 1)
        await until(lambda: bool(r.accepted()))
        (refused, _, _), (accepted, _, _) = r.arrived[:2]
        return round(accepted - refused - 0.2, 3)


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.db"
        store = open_store(Settings(database_url=database_url))
        await store.start()
        try:
            orgs = [await create_org(store, n) for n in ("Plain", "Fifo", "Stuck", "Other")]
        finally:
            await store.aclose()
        plain, fifo, stuck, other = orgs
        async with gateway(database_url, args.poll) as http:
            return {
                "database": database_url.split(":", 1)[0],
                "poll_s": args.poll,
                "messages": args.messages,
                "plain_s": round(await stream(http, plain, args.messages), 3),
                "fifo_s": round(await stream(http, fifo, args.messages, fifo=True), 3),
                "retry_late_s": await retry_lateness(http, fifo),
                "backlog": args.backlog,
                "isolation_s": await isolation(http, stuck, other, args.backlog),
            }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--backlog", type=int, default=200)
    parser.add_argument("--poll", type=float, default=30.0, help="poll interval and timeout")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
