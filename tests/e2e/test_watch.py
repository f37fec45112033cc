"""``docs/examples/watch.py`` as the README runs it: a real process against a real gateway."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest

from bench.services import free_port
from gateway.app import create_app
from gateway.core.auth import Principal, TokenSigner
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from storage.models import now
from tests.support import api, live_server, new_org, timeout

pytestmark = pytest.mark.e2e

WATCH = Path(__file__).parents[2] / "docs" / "examples" / "watch.py"


class Watcher:
    """A running ``watch.py``: its stdout read line by line, its stderr kept for the end."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> Watcher:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WATCH),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def lines(self, count: int) -> list[str]:
        assert self.process.stdout is not None
        read = []
        for _ in range(count):
            async with asyncio.timeout(timeout(15)):
                read.append((await self.process.stdout.readline()).decode().rstrip("\n"))
        return read

    async def stop(self) -> tuple[int, str, str]:
        """Ctrl-C; returns (exit code, the rest of stdout, stderr)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        return await self.wait()

    async def wait(self) -> tuple[int, str, str]:
        """Wait for the watcher to exit by itself."""
        async with asyncio.timeout(timeout(15)):
            stdout, stderr = await self.process.communicate()
        assert self.process.returncode is not None
        return self.process.returncode, stdout.decode(), stderr.decode()


async def visitor(http: httpx.AsyncClient, org: OrgCredentials) -> tuple[str, str]:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    return session["token"], conversation["id"]


async def say(http: httpx.AsyncClient, token: str, conversation_id: str, *contents: str) -> None:
    for content in contents:
        path = f"/v1/conversations/{conversation_id}/messages"
        await api(http, "POST", path, token, json={"content": content})


async def test_watch_restarted_prints_only_what_it_missed(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, tmp_path: Path
) -> None:
    """Stopped with Ctrl-C and started again, the watcher prints only the events sent while it
    was away (it keeps its last seq in a state file); `--after-seq 0` prints them all."""
    token, cid = await visitor(http, org)
    await say(http, token, cid, "one", "two")
    state = ("--state-dir", str(tmp_path / "state"))

    first = await Watcher.start(token, cid, server, *state)
    assert await first.lines(2) == ["#1 visitor: one", "#2 visitor: two"]
    code, rest, stderr = await first.stop()
    assert code == 130 and rest == "" and "Traceback" not in stderr

    await say(http, token, cid, "three", "four")
    second = await Watcher.start(token, cid, server, *state)
    assert await second.lines(2) == ["#3 visitor: three", "#4 visitor: four"]
    await say(http, token, cid, "five")
    assert await second.lines(1) == ["#5 visitor: five"]
    code, rest, stderr = await second.stop()
    assert code == 130 and rest == ""
    assert "resuming after seq 2" in stderr

    again = await Watcher.start(token, cid, server, *state, "--after-seq", "0")
    assert await again.lines(5) == [f"#{n} visitor: {c}" for n, c in enumerate(
        ("one", "two", "three", "four", "five"), start=1
    )]  # fmt: skip
    await again.stop()


async def test_watch_stops_on_an_expired_or_invalid_token(
    server: str, settings: Settings, org: OrgCredentials, tmp_path: Path
) -> None:
    """A token the gateway refuses (close 4001: expired, or not a token at all) stops the
    watcher with exit code 1 and a message saying to get a new token; it does not reconnect."""
    expired, _ = TokenSigner(settings.secret_key).issue(
        Principal("visitor", org.org_id, str(uuid.uuid4()), widget_id=org.widget_id),
        timedelta(hours=1),
        now() - timedelta(hours=2),
    )
    for token, reason in ((expired, "token expired"), ("not-a-token", "invalid token")):
        watcher = await Watcher.start(
            token, str(uuid.uuid4()), server, "--state-dir", str(tmp_path)
        )
        code, stdout, stderr = await watcher.wait()
        assert code == 1, stderr
        assert "closed with 4001" in stderr and reason in stderr, stderr
        assert "get a new one" in stderr and "resuming" not in stderr
        assert stdout == ""


async def test_watch_stops_on_a_conversation_it_may_not_see(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, tmp_path: Path
) -> None:
    """A conversation that does not exist (or is not the token's) stops the watcher with exit
    code 1 and the gateway's reason."""
    token, _ = await visitor(http, org)
    ghost = str(uuid.uuid4())
    watcher = await Watcher.start(token, ghost, server, "--state-dir", str(tmp_path))
    code, stdout, stderr = await watcher.wait()
    assert code == 1 and f"cannot follow {ghost}" in stderr, stderr
    assert stdout == ""


async def test_watch_reconnects_after_a_gateway_restart(settings: Settings, tmp_path: Path) -> None:
    """When the gateway restarts, the watcher says it is reconnecting, comes back on its own
    and prints what was sent after the restart once, and nothing twice."""
    port = free_port()
    with live_server(create_app(settings), port=port) as url:
        async with httpx.AsyncClient(base_url=url, timeout=timeout(10)) as http:
            org = await new_org(settings.database_url, "Acme")
            token, cid = await visitor(http, org)
            await say(http, token, cid, "before")
            watcher = await Watcher.start(token, cid, url, "--state-dir", str(tmp_path))
            assert await watcher.lines(1) == ["#1 visitor: before"]
    with live_server(create_app(settings), port=port) as url:
        async with httpx.AsyncClient(base_url=url, timeout=timeout(10)) as http:
            await say(http, token, cid, "after")
            assert await watcher.lines(1) == ["#2 visitor: after"]
            code, rest, stderr = await watcher.stop()
    assert rest == ""
    assert "resuming after seq 1 in" in stderr, stderr
