"""The JavaScript SDK's committed bundle against a real gateway, through a link a test can cut.

Node runs ``tests/e2e/sdk_driver.mjs`` (which imports ``gateway/web/dist/sdk.js``) as a
widget page would; between it and the gateway sits a TCP link that the test cuts, holds shut
and mutes, as a network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from tests.conftest import service_missing
from tests.support import SocketClient, api, timeout

pytestmark = pytest.mark.e2e

DRIVER = Path(__file__).with_name("sdk_driver.mjs")


class Link:
    """A TCP proxy in front of the gateway: ``cut()`` drops every connection; while ``held``
    new ones are dropped at once; while ``muted`` what the gateway sends is lost on the way."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.held = False
        self.muted = False
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def aclose(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        self.muted = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.held:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._open |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, lambda: False),
            self._pipe(up_reader, writer, lambda: self.muted),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, muted: Callable[[], bool]
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not muted():
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.transport.abort()
            self._open.discard(writer)


class Sdk:
    """The driver process: commands in, results and the SDK's events out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.emitted: list[dict[str, Any]] = []
        self.results: dict[int, dict[str, Any]] = {}
        self.settled: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            item = json.loads(line)
            async with self._changed:
                if "emit" in item:
                    self.emitted.append(item)
                elif "settled" in item:
                    self.settled[item["settled"]] = item
                else:
                    self.results[item["id"]] = item
                self._changed.notify_all()

    async def wait_for(self, probe: Callable[[], Any], seconds: float = 15) -> Any:
        async with asyncio.timeout(timeout(seconds)), self._changed:
            while not (found := probe()):
                if self._reader.done():
                    raise AssertionError(f"the driver exited: {await self.stderr()}")
                await self._changed.wait()
            return found

    async def command(self, do: str, method: str | None = None, *args: Any) -> dict[str, Any]:
        """Runs one command; returns its result (``ok``, ``value`` or ``error``)."""
        assert self.process.stdin is not None
        id_ = next(self._ids)
        line = {"id": id_, "do": do, "method": method, "args": list(args)}
        self.process.stdin.write(json.dumps(line).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.wait_for(lambda: self.results.get(id_))  # type: ignore[no-any-return]

    async def call(self, method: str, *args: Any) -> Any:
        result = await self.command("call", method, *args)
        assert result["ok"], result
        return result["value"]

    async def rest(self, method: str, *args: Any) -> Any:
        result = await self.command("rest", method, *args)
        assert result["ok"], result
        return result["value"]

    async def start(self, method: str, *args: Any) -> int:
        """Begins ``method`` without waiting for it; ``outcome`` waits."""
        started = await self.command("start", method, *args)
        return int(started["id"])

    async def outcome(self, started: int) -> dict[str, Any]:
        return await self.wait_for(lambda: self.settled.get(started))  # type: ignore[no-any-return]

    def seqs(self) -> list[int]:
        return [
            e["value"]["seq"]
            for e in self.emitted
            if e["emit"] in ("new_message", "conversation.updated")
        ]

    def states(self) -> list[str]:
        return [e["value"]["state"] for e in self.emitted if e["emit"] == "state"]

    async def aclose(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                return (await self.process.stderr.read()).decode()
        return ""


@pytest.fixture
async def link(server: str) -> AsyncIterator[tuple[Link, str]]:
    proxy = Link(int(server.rsplit(":", 1)[1]))
    url = await proxy.start()
    try:
        yield proxy, url
    finally:
        await proxy.aclose()


@functools.cache
def node_command() -> list[str]:
    """``node``, with the flag that gives Node 20 a global WebSocket (Node 22 has one)."""
    node = shutil.which("node")
    if node is None:
        service_missing("node is not installed (the SDK's end-to-end tests run it)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.lstrip("v").split(".")[0])
    return [node, "--experimental-websocket"] if major < 22 else [node]


async def driver(url: str, widget_id: str, *token: str) -> Sdk:
    process = await asyncio.create_subprocess_exec(
        *node_command(),
        str(DRIVER),
        url,
        widget_id,
        *token,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return Sdk(process)


@pytest.fixture
async def sdk(link: tuple[Link, str], org: OrgCredentials) -> AsyncIterator[Sdk]:
    client = await driver(link[1], org.widget_id)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def watcher(server: str, org: OrgCredentials) -> AsyncIterator[SocketClient]:
    """A staff socket beside the SDK, to see what the gateway stored and published."""
    client = await SocketClient.open(server)
    try:
        await client.hello(org.api_key)
        yield client
    finally:
        await client.aclose()


async def history(http: httpx.AsyncClient, org: OrgCredentials, conversation_id: str) -> list[Any]:
    page = await api(
        http, "GET", f"/v1/conversations/{conversation_id}/messages?limit=200", org.api_key
    )
    return page["data"]  # type: ignore[no-any-return]


async def test_sdk_js_resumes_and_retries_through_drops(
    sdk: Sdk,
    watcher: SocketClient,
    link: tuple[Link, str],
    http: httpx.AsyncClient,
    org: OrgCredentials,
) -> None:
    """Through cut links the SDK emits every event of its conversation once, in seq order, and
    a message sent offline or whose reply was lost is stored once."""
    proxy, _ = link
    await sdk.command("session")
    conversation = await sdk.rest("startConversation", {"widget_id": org.widget_id})
    cid = conversation["id"]
    hello = await sdk.call("connect")
    assert hello["principal"]["kind"] == "visitor"
    assert await sdk.call("subscribe", cid) == {"conversation_id": cid, "last_seq": 0}
    await watcher.call("subscribe", conversation_id=cid)
    sent = await sdk.call("send", cid, "Where is my order?")
    assert sent["seq"] == 1
    await api(
        http, "PATCH", f"/v1/conversations/{cid}", org.api_key, json={"status": "agent_requested"}
    )
    reply = {"content": "Hi, I'm Ann.", "agent_id": org.agent_id}
    await api(http, "POST", f"/v1/conversations/{cid}/messages", org.api_key, json=reply)
    # 1 message, 2 agent_requested, 3 takeover, 4 its system message, 5 the agent's reply.
    await sdk.wait_for(lambda: sdk.seqs() == [1, 2, 3, 4, 5])

    # The network goes away; the conversation goes on without the visitor.
    proxy.held = True
    proxy.cut()
    await sdk.wait_for(lambda: "reconnecting" in sdk.states())
    for text in ("Your order ships tomorrow.", "Anything else?"):
        message = {"content": text, "agent_id": org.agent_id}
        await api(http, "POST", f"/v1/conversations/{cid}/messages", org.api_key, json=message)
    await api(http, "PATCH", f"/v1/conversations/{cid}", org.api_key, json={"assignee_id": None})
    offline = await sdk.start("send", cid, "Thanks!", {"clientMessageId": "c-offline"})
    proxy.held = False
    settled = await sdk.outcome(offline)
    assert settled["ok"], settled
    assert settled["value"]["seq"] == 9
    await sdk.wait_for(lambda: sdk.seqs() == list(range(1, 10)))
    ready = [e["value"]["resumed"] for e in sdk.emitted if e["emit"] == "ready"]
    assert ready[0] is False and ready[-1] is True

    # A reply lost on the way: the message is stored, the SDK never hears of it, the link drops.
    proxy.muted = True
    lost = await sdk.start("send", cid, "Bye", {"clientMessageId": "c-lost"})
    await watcher.wait_for(
        lambda: any(e["data"].get("client_message_id") == "c-lost" for e in watcher.events)
    )
    assert sdk.seqs() == list(range(1, 10)), "the muted link carried nothing"
    proxy.cut()
    settled = await sdk.outcome(lost)
    assert settled["ok"], settled
    assert settled["value"]["seq"] == 10
    await sdk.wait_for(lambda: sdk.seqs() == list(range(1, 11)))

    stored = await history(http, org, cid)
    assert [m["client_message_id"] for m in stored].count("c-lost") == 1
    assert [m["client_message_id"] for m in stored].count("c-offline") == 1
    emitted = [e["value"]["data"] for e in sdk.emitted if e["emit"] == "new_message"]
    assert [m["id"] for m in emitted] == [m["id"] for m in stored]
    assert await sdk.call("lastSeq", cid) == 10


async def test_sdk_js_stops_on_a_refused_token(link: tuple[Link, str], org: OrgCredentials) -> None:
    """A token the gateway refuses closes with 4001 and the SDK stops with unauthorized."""
    sdk = await driver(link[1], org.widget_id, "not-a-token")
    try:
        await sdk.command("session")
        result = await sdk.command("call", "connect")
        assert result["error"]["code"] == "unauthorized"
        assert result["error"]["closeCode"] == 4001
        await sdk.wait_for(lambda: sdk.states()[-1:] == ["closed"])
    finally:
        await sdk.aclose()


async def test_sdk_js_skips_private_notes_without_looping(
    sdk: Sdk, link: tuple[Link, str], http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    """A private note is a gap in the visitor's seqs: the SDK backfills it once (a seq with
    no message, filled as a status change would be) and carries on, live and after a resume,
    without ever emitting the note."""
    proxy, _ = link
    await sdk.command("session")
    conversation = await sdk.rest("startConversation", {"widget_id": org.widget_id})
    cid = conversation["id"]
    await sdk.call("connect")
    await sdk.call("subscribe", cid)
    await sdk.call("send", cid, "Hello?")
    say = f"/v1/conversations/{cid}/messages"
    await api(http, "POST", say, org.api_key, json={"content": "note one", "private": True})
    await api(
        http, "PATCH", f"/v1/conversations/{cid}", org.api_key, json={"status": "agent_requested"}
    )
    # 1 hello, 2 the note (a gap for the visitor), 3 agent_requested.
    await sdk.wait_for(lambda: sdk.seqs()[-1:] == [3])
    assert await sdk.call("lastSeq", cid) == 3

    # A note while the visitor is away, and one after the last public event: resume skips them.
    proxy.held = True
    proxy.cut()
    await sdk.wait_for(lambda: "reconnecting" in sdk.states())
    await api(http, "POST", say, org.api_key, json={"content": "note two", "private": True})
    reply = {"content": "Hi, Ann here.", "agent_id": org.agent_id}
    await api(http, "POST", say, org.api_key, json=reply)  # 5 takeover, 6 system, 7 reply
    await api(http, "POST", say, org.api_key, json={"content": "note three", "private": True})
    proxy.held = False
    await sdk.wait_for(lambda: sdk.seqs()[-1:] == [7])
    await api(http, "POST", say, org.api_key, json={"content": "Anything else?"})
    await sdk.wait_for(lambda: sdk.seqs()[-1:] == [9])
    assert await sdk.call("lastSeq", cid) == 9
    messages = [e["value"]["data"] for e in sdk.emitted if e["emit"] == "new_message"]
    assert [(m["seq"], m["content"]) for m in messages] == [
        (1, "Hello?"),
        (6, messages[1]["content"]),
        (7, "Hi, Ann here."),
        (9, "Anything else?"),
    ]
    seqs = sdk.seqs()
    assert seqs == sorted(set(seqs)), "each seq once, in order"
    # One backfill per gap, no retry loop.
    assert len([e for e in sdk.emitted if e["emit"] == "gap"]) <= 3
