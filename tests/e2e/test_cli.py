"""The ``chatgate`` command as a user runs it: real processes, real ports."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import orjson

from tests.support import SocketClient, bearer, timeout

RUNNING = re.compile(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def chatgate(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway", *args]


@dataclass
class Served:
    url: str = ""
    #: What the process printed on stdout, once it has exited.
    printed: str = ""


@asynccontextmanager
async def serving(database_url: str) -> AsyncIterator[Served]:
    """``chatgate serve`` on a free port, stopped with Ctrl-C at the end."""
    served = Served()
    process = await asyncio.create_subprocess_exec(
        *chatgate("serve", "--port", "0", "--database-url", database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CHATGATE_LOG_LEVEL": "info"},
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        async with asyncio.timeout(timeout(30)):
            while not (match := RUNNING.search(line := await process.stderr.readline())):
                assert line, "chatgate serve exited before serving"
        served.url = match.group(1).decode()
        yield served
    finally:
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(timeout(30)):
            stdout, _ = await process.communicate()
        served.printed = stdout.decode()
        assert process.returncode == 0


async def test_cli_first_serve_bootstraps_and_prints_credentials_once(tmp_path: Path) -> None:
    """The first serve on an empty database prints working credentials; the next does not,
    and tokens survive the restart (the signing secret is kept in the database)."""
    database_url = f"sqlite:///{tmp_path}/data/chatgate.db"
    async with serving(database_url) as first, httpx.AsyncClient(base_url=first.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
    printed = first.printed
    fields = dict(re.findall(r"^\s+(\w+)\s+(\S+)$", printed, re.MULTILINE))
    assert set(fields) == {"org_id", "api_key", "widget_id", "agent_id"}, printed
    assert "shown once" in printed

    async with serving(database_url) as second, httpx.AsyncClient(base_url=second.url) as http:
        listed = await http.get("/v1/conversations", headers=bearer(fields["api_key"]))
        assert listed.status_code == 200
        issued = await http.post(
            "/v1/tokens", json={"agent_id": fields["agent_id"]}, headers=bearer(fields["api_key"])
        )
        token = issued.json()["token"]
    assert "api_key" not in second.printed

    async with serving(database_url) as third:
        client = await SocketClient.open(third.url)
        hello = await client.hello(token)
        assert hello["principal"] == {
            "kind": "agent",
            "org_id": fields["org_id"],
            "agent_id": fields["agent_id"],
        }
        await client.aclose()


async def test_cli_orgs_create_json(tmp_path: Path) -> None:
    """`chatgate orgs create NAME --json` prints the four credentials, which work."""
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    process = await asyncio.create_subprocess_exec(
        *chatgate(
            "orgs",
            "create",
            "Acme",
            "--json",
            "--origin",
            "https://acme.example",
            "--database-url",
            database_url,
        ),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    credentials = orjson.loads(stdout)
    assert set(credentials) == {"org_id", "api_key", "widget_id", "agent_id"}
    async with serving(database_url) as served, httpx.AsyncClient(base_url=served.url) as http:
        widget = await http.get(
            f"/v1/widgets/{credentials['widget_id']}", headers=bearer(credentials["api_key"])
        )
        assert widget.json()["allowed_origins"] == ["https://acme.example"]
        assert widget.json()["org_id"] == credentials["org_id"]
    assert "api_key" not in served.printed, "an existing org means no bootstrap"


async def test_cli_rejects_bad_configuration(tmp_path: Path) -> None:
    """A malformed setting or database URL fails at once with a clear message."""
    process = await asyncio.create_subprocess_exec(
        *chatgate("serve"),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "CHATGATE_PORT": "eighty"},
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"invalid setting" in stderr and b"port" in stderr
    process = await asyncio.create_subprocess_exec(
        *chatgate("serve", "--database-url", "mysql://nope"),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"unsupported database URL" in stderr
    assert b"Traceback" not in stderr
