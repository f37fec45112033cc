"""A local image server and a gateway that may fetch from it (and from nothing else private).

The image server listens on 127.0.0.2 (all of 127.0.0.0/8 is loopback on Linux), which is the
gateway's only allow-listed fetch host: 127.0.0.1 and every other private address stay unsafe.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import bearer, live_server, new_org

IMAGE_HOST = "127.0.0.2"
#: The gateway's file limit in these tests (small, so that "too large" is cheap to serve).
MAX_FILE_BYTES = 64 * 1024
FETCH_TIMEOUT = 1.0


def png(seed: int = 0, padding: int = 0) -> bytes:
    """A valid 1x1 PNG; ``seed`` changes its colour (and so its bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(b"\0" + bytes([seed % 256, 0, 0]))
    extra = chunk(b"tEXt", b"pad\0" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", pixel)
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\0" * 32
FILES = {
    "cat.png": (png(1), "image/png"),
    "dog.jpg": (JPEG, "image/jpeg"),
    "page.html": (b"<!doctype html><p>hello</p>", "text/html"),
    "fake.png": (b"%PDF-1.7 not a png", "image/png"),
    "huge.png": (png(2, padding=MAX_FILE_BYTES), "image/png"),
}


@dataclass
class ImageServer:
    base: str
    #: Paths requested, in order.
    hits: list[str]


@pytest.fixture(scope="module")
def image_server() -> Iterator[ImageServer]:
    hits: list[str] = []

    async def serve_file(request: Request) -> Response:
        name = request.path_params["name"]
        hits.append(name)
        if name == "slow.png":
            await asyncio.sleep(FETCH_TIMEOUT * 5)
        if name not in FILES:
            return Response(status_code=404)
        data, media_type = FILES[name]
        return Response(data, media_type=media_type)

    async def moved(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": request.query_params["to"]})

    app = Starlette(
        routes=[Route("/files/{name}", serve_file), Route("/redirect", moved)],
    )
    with live_server(app, host=IMAGE_HOST, lifespan="off") as base:
        yield ImageServer(base, hits)


def dialect_settings(database_url: str, **overrides: Any) -> Settings:
    """A gateway as vendor integrations need it: with a public URL, so file URLs are absolute
    (``http://testserver``, the test client's address)."""
    defaults: dict[str, Any] = {
        "public_url": "http://testserver",
        "secret_key": "test-secret-key-of-decent-length!",
        "fetch_allowed_hosts": IMAGE_HOST,
        "fetch_timeout": FETCH_TIMEOUT,
        "max_file_bytes": MAX_FILE_BYTES,
    }
    return Settings(database_url=database_url, **{**defaults, **overrides})


@dataclass
class World:
    """A gateway with two orgs, and one conversation of the first org's widget."""

    client: TestClient
    org: OrgCredentials
    other: OrgCredentials
    conversation_id: str
    contact_id: str
    visitor_token: str
    agent_token: str
    other_widget_id: str

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, headers=bearer(self.org.api_key), **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def move_to(self, status: str) -> None:
        """Walk the conversation to ``status`` through the native API."""
        path = f"/v1/conversations/{self.conversation_id}"
        if status == "bot_active":
            return
        visitor = bearer(self.visitor_token)
        asked = self.client.patch(path, json={"status": "agent_requested"}, headers=visitor)
        assert asked.status_code == 200, asked.text
        if status == "open":
            self.api("PATCH", path, json={"status": "open"})
        elif status == "closed":
            self.api("POST", f"{path}/end")


def build_world(
    client: TestClient, database_url: str, monthly_message_limit: int | None = None
) -> World:
    org = asyncio.run(new_org(database_url, "Acme", monthly_message_limit=monthly_message_limit))
    other = asyncio.run(new_org(database_url, "Globex"))
    key = bearer(org.api_key)
    widget = client.patch(
        f"/v1/widgets/{org.widget_id}",
        # No hand-off during a contract test: the platform's address is never contacted.
        json={
            "live_agent_endpoint_url": "https://live.example/hook",
            "live_agent_escalate_after": 3600,
        },
        headers=key,
    )
    assert widget.status_code == 200, widget.text
    other_widget = client.post("/v1/widgets", json={"name": "Docs"}, headers=key).json()
    session = client.post(f"/v1/widgets/{org.widget_id}/sessions", json={}).json()
    visitor = bearer(session["token"])
    conversation = client.post("/v1/conversations", json={}, headers=visitor).json()
    token = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=key).json()
    return World(
        client,
        org,
        other,
        conversation["id"],
        session["contact"]["id"],
        session["token"],
        token["token"],
        other_widget["id"],
    )


@pytest.fixture
def world(tmp_path: Path, image_server: ImageServer) -> Iterator[World]:
    database_url = f"sqlite:///{tmp_path}/chatgate.db"
    app = create_app(dialect_settings(database_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield build_world(client, database_url)


def livechatai_bots(world: World) -> dict[str, str]:
    """A knowledge bot of each org (LiveChatAI's agents): ``bot_id``, ``other_bot_id``."""
    ours = world.api("POST", "/v1/bots", json={"name": "Helper", "kind": "knowledge"})
    theirs = world.client.post(
        "/v1/bots",
        json={"name": "Theirs", "kind": "knowledge"},
        headers=bearer(world.other.api_key),
    )
    assert theirs.status_code == 201, theirs.text
    return {"bot_id": ours["id"], "other_bot_id": theirs.json()["id"]}
