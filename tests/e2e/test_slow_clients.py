"""Slow clients cannot hold connections: requests that stall in their headers or body are
answered 408 and closed, while everyone else is served and sockets stay open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson
import pytest

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import SocketClient, api, bearer, live_server, new_org, timeout

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
#: What the issue allows on top of a timeout before a connection must be closed.
GRACE = 5.0


@contextmanager
def slow_client_server(settings: Settings, **changes: float) -> Iterator[str]:
    options = {"http_header_timeout": HEADER_TIMEOUT, "http_body_timeout": BODY_TIMEOUT}
    with live_server(create_app(settings.replace(**{**options, **changes}))) as server:
        yield server


async def connect(server: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(server)
    return await asyncio.open_connection(address.hostname, address.port)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await reader.read()


def post_head(org: OrgCredentials, length: int) -> bytes:
    return (
        f"POST /v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {org.api_key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


async def test_slow_clients_stalled_headers_and_body_are_closed_while_others_are_served(
    settings: Settings, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """200 sockets that stop mid-header and a POST that sends 10 of its 1000 bytes all get
    408 and are closed within the timeout + 5 s; a socket that sends nothing is closed
    silently; meanwhile /healthz and a real request are answered, and nothing is logged as
    an error."""
    with slow_client_server(settings) as server:
        org = await new_org(database_url, "Acme")
        stalled = []
        for n in range(200):
            reader, writer = await connect(server)
            # Half a request line, or a request line and half its headers.
            writer.write(b"GET /heal" if n % 2 else b"GET /healthz HTTP/1.1\r\nHost: 127.0")
            stalled.append((reader, writer))
        body_reader, body_writer = await connect(server)
        body_writer.write(post_head(org, 1000) + b'{"a": "bcd')
        silent_reader, silent_writer = await connect(server)
        await asyncio.gather(*(w.drain() for _, w in stalled), body_writer.drain())
        sent = asyncio.get_running_loop().time()

        async with httpx.AsyncClient(base_url=server, timeout=timeout(10)) as http:
            assert (await http.get("/healthz")).status_code == 200
            created = await http.post("/v1/conversations", json={}, headers=bearer(org.api_key))
            assert created.status_code == 201, created.text

        async with asyncio.timeout_at(sent + timeout(HEADER_TIMEOUT + GRACE)):
            answers = await asyncio.gather(*(read_until_closed(r) for r, _ in stalled))
            silent_answer = await read_until_closed(silent_reader)
        async with asyncio.timeout_at(sent + timeout(BODY_TIMEOUT + GRACE)):
            body_answer = await read_until_closed(body_reader)
        for answer in [*answers, body_answer]:
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 "), answer
            assert b"connection: close" in head.lower()
            assert orjson.loads(body)["error"]["code"] == "request_timeout"
        assert silent_answer == b""
        for _, writer in [*stalled, (body_reader, body_writer), (silent_reader, silent_writer)]:
            writer.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def test_slow_clients_a_trickled_body_is_closed_though_it_never_stalls(
    settings: Settings, database_url: str
) -> None:
    """A body that sends a byte every 0.2 s never waits the 2 s body timeout, yet it falls
    behind the minimum rate and is answered 408 and closed."""
    with slow_client_server(settings, http_body_min_rate=1000) as server:
        org = await new_org(database_url, "Acme")
        reader, writer = await connect(server)
        writer.write(post_head(org, 1000))

        async def trickle() -> None:
            for _ in range(1000):
                writer.write(b" ")
                await asyncio.sleep(0.2)

        dripping = asyncio.create_task(trickle())
        try:
            async with asyncio.timeout(timeout(BODY_TIMEOUT + GRACE)):
                answer = await read_until_closed(reader)
        finally:
            dripping.cancel()
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_slow_clients_a_slow_steady_upload_is_served(
    settings: Settings, database_url: str
) -> None:
    """A body that arrives in pieces over several body timeouts, but steadily and above the
    minimum rate, is read to the end and answered."""
    body = orjson.dumps({"metadata": {"note": "x" * 980}})
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    with slow_client_server(settings, http_body_timeout=3.0, http_body_min_rate=10) as server:
        org = await new_org(database_url, "Acme")
        reader, writer = await connect(server)
        writer.write(post_head(org, len(body)))
        for piece in pieces:  # about 5 s in all, at most 0.5 s between two pieces
            writer.write(piece)
            await asyncio.sleep(0.5)
        async with asyncio.timeout(timeout(10)):
            status = await reader.readline()
        writer.close()
        assert status.startswith(b"HTTP/1.1 201 "), status


async def test_slow_clients_sockets_outlive_the_read_timeouts(
    settings: Settings, database_url: str
) -> None:
    """An upgraded WebSocket that stays quiet well past the header and body timeouts is
    still open and answers."""
    with slow_client_server(settings) as server:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=server, timeout=timeout(10)) as http:
            issued = await api(
                http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id}
            )
        token = issued["token"]
        client = await SocketClient.open(server)
        try:
            await client.hello(token)
            await asyncio.sleep(HEADER_TIMEOUT + BODY_TIMEOUT + 1)
            assert (await client.request("ping"))["ok"]
        finally:
            await client.aclose()
