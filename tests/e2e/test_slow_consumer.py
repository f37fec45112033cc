"""A socket that stops reading is closed with 4008, never slows the others, and resumes."""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from gateway.app import create_app
from gateway.settings import Settings
from protocol.codes import CloseCode
from tests.support import SocketClient, api, live_server, new_org, timeout

BIG = "x" * 16_000  # a few of these fill the small socket buffers quickly


async def test_slow_consumer_closed_4008_others_unaffected_and_resume_loses_nothing(
    settings: Settings, database_url: str
) -> None:
    """The stalled client is cut with 4008 while a reading client gets every event; the
    stalled one then resumes from its last seq and ends with every event, in order."""
    total = 300
    # One visitor sends all 300 messages: its rate budgets are not what this test is about.
    app = create_app(
        settings.replace(
            send_queue_size=16,
            max_batch=4,
            visitor_requests_per_minute=0,
            address_requests_per_minute=0,
        )
    )
    with live_server(app) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as http:
            session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
            token = session["token"]
            cid = (await api(http, "POST", "/v1/conversations", token, json={}))["id"]

            fast = await SocketClient.open(server)
            await fast.hello(token)
            await fast.call("subscribe", conversation_id=cid)

            # A client socket with a tiny receive buffer whose owner stops reading: its
            # library queue fills, then the kernel buffers, then the server's queue.
            host, port = urlsplit(server).hostname, urlsplit(server).port
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect((host, port))
            slow = await SocketClient.open(server, sock=raw, max_queue=4)
            await slow.hello(token)
            await slow.call("subscribe", conversation_id=cid)
            slow._reader.cancel()  # stop reading, as a frozen browser tab would

            for n in range(total):
                await api(
                    http,
                    "POST",
                    f"/v1/conversations/{cid}/messages",
                    token,
                    json={"content": f"{n} {BIG}"},
                )
            fast_events = await fast.wait_events(total, seconds=60)
            assert [e["seq"] for e in fast_events] == list(range(1, total + 1))

            # The stalled client reads again: what was buffered, then the 4008 close.
            received: list[int] = []
            close_code = None
            async with asyncio.timeout(timeout(30)):
                try:
                    while True:
                        frame = await slow.ws.recv()
                        decoded = orjson.loads(frame)
                        items = decoded if isinstance(decoded, list) else [decoded]
                        received += [i["seq"] for i in items if i["op"] == "event"]
                except Exception:
                    close_code = slow.ws.close_code
            assert close_code == CloseCode.SLOW_CONSUMER
            assert received == list(range(1, len(received) + 1)), "in order until the cut"
            assert len(received) < total, "it really was cut off"

            resumed = await SocketClient.open(server)
            await resumed.hello(token, resume={cid: received[-1] if received else 0})
            rest = await resumed.wait_events(total - len(received), seconds=60)
            assert received + [e["seq"] for e in rest] == list(range(1, total + 1))
            for client in (fast, resumed):
                await client.aclose()
            metrics = (await http.get("/metrics")).text
            assert "chatgate_slow_consumers_total 1.0" in metrics
