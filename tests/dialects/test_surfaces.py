"""One conversation, one history: what any surface writes, every surface reads.

A real gateway on uvicorn; a visitor's widget socket and an agent's dashboard socket follow the
conversation while the native API, the socket, Bland, Pingback and Awardee all write to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.core.lifecycle import TAKEOVER_MARKER
from gateway.handlers.orgs import OrgCredentials
from protocol.encoding import format_instant
from tests.dialects.conftest import ImageServer, dialect_settings, png
from tests.support import SocketClient, api, bearer, live_server, new_org, timeout

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/chatgate.db"


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    with live_server(create_app(dialect_settings(database_url))) as url:
        yield url


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as client:
        yield client


@pytest.fixture
async def org(server: str, database_url: str) -> OrgCredentials:
    return await new_org(database_url, "Acme")


async def test_every_surface_writes_one_history(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, image_server: ImageServer
) -> None:
    """Messages from five surfaces land in one seq order, seen the same way by the native
    history, Awardee's reads, and both sockets (events 1..N, no gap, no duplicate)."""
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    visitor_token = session["token"]
    cid = (await api(http, "POST", "/v1/conversations", visitor_token, json={}))["id"]
    agent = await api(http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id})
    widget_socket = await SocketClient.open(server)
    await widget_socket.hello(visitor_token)
    await widget_socket.call("subscribe", conversation_id=cid)
    dashboard = await SocketClient.open(server, codec="msgpack")
    await dashboard.hello(agent["token"])
    await dashboard.call("subscribe", conversation_id=cid)
    key = bearer(org.api_key)

    # The visitor writes natively, over REST and over the socket, then asks for a human.
    await api(
        http, "POST", f"/v1/conversations/{cid}/messages", visitor_token, json={"content": "hi"}
    )
    await widget_socket.call("message.send", conversation_id=cid, content="anyone there?")
    await api(
        http, "PATCH", f"/v1/conversations/{cid}", visitor_token, json={"status": "agent_requested"}
    )
    # Awardee takes over with an image fetched by URL.
    awardee = await http.post(
        f"/conversations/{cid}/messages",
        json={
            "text": "A human here.",
            "attachments": [{"url": f"{image_server.base}/files/cat.png"}],
        },
        headers=key,
    )
    assert awardee.status_code == 201, awardee.text
    # A live agent answers through Bland, an agent through Pingback with an upload, and the
    # dashboard through the socket.
    # Sam's platform says when Sam wrote (a moment ago, in its own offset): every surface shows
    # that time, and the order stays that of storage.
    sam_wrote = datetime.now(UTC) - timedelta(seconds=1)
    bland = await http.post(
        f"/v1/widget/{org.widget_id}/threads/{cid}/webhook",
        json={
            "type": "MESSAGE",
            "content": "Live agent Sam.",
            "sender_id": "sam",
            "created_at": sam_wrote.astimezone(timezone(timedelta(hours=-5))).isoformat(),
        },
        headers={"authorization": org.api_key},
    )
    assert bland.status_code == 200, bland.text
    upload = await http.post(
        f"/api/v1/conversations/{cid}/upload",
        files={"file": ("receipt.png", png(9), "image/png")},
        headers=bearer(agent["token"]),
    )
    assert upload.status_code == 201, upload.text
    pingback = await http.post(
        f"/api/v1/conversations/{cid}/messages",
        json={"content": "Your receipt.", "attachments": [upload.json()]},
        headers=bearer(agent["token"]),
    )
    assert pingback.status_code == 201, pingback.text
    await dashboard.call("message.send", conversation_id=cid, content="Anything else?")

    history = await api(http, "GET", f"/v1/conversations/{cid}/messages?limit=200", org.api_key)
    messages = history["data"]
    said = [(m["role"], m["content"]) for m in messages]
    assert said == [
        ("visitor", "hi"),
        ("visitor", "anyone there?"),
        ("system", TAKEOVER_MARKER),
        ("agent", "A human here."),
        ("live_agent", "Live agent Sam."),
        ("agent", "Your receipt."),
        ("agent", "Anything else?"),
    ]
    ids = [m["id"] for m in messages]
    assert ids[3] == awardee.json()["id"]
    assert ids[4] == bland.json()["data"]["id"]
    assert ids[5] == pingback.json()["id"]
    assert messages[3]["attachments"][0]["mime"] == "image/png"
    assert messages[5]["attachments"][0]["url"] == upload.json()["url"]
    assert messages[4]["sender_id"] == "sam"
    assert messages[4]["created_at"] == format_instant(sam_wrote)
    assert bland.json()["data"]["created_at"] == format_instant(sam_wrote)

    conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
    last_seq = conversation["last_seq"]
    assert conversation["status"] == "open" and conversation["first_response_at"] is not None
    for socket in (widget_socket, dashboard):
        events = await socket.wait_for(
            lambda s=socket: len(s.events) >= last_seq and s.events  # type: ignore[misc]
        )
        assert [e["seq"] for e in events] == list(range(1, last_seq + 1))
        delivered = [e["data"]["id"] for e in events if e["event"] == "new_message"]
        assert delivered == ids
        sam = next(e["data"] for e in events if e["data"].get("id") == ids[4])
        assert sam["created_at"] == format_instant(sam_wrote)

    awardee_view = await http.get(f"/conversations/{cid}/messages?limit=200", headers=key)
    assert [m["id"] for m in awardee_view.json()["data"]] == ids
    assert awardee_view.json()["data"][4]["created_at"] == format_instant(sam_wrote)
    assert [m["role"] for m in awardee_view.json()["data"]] == [
        "user",
        "user",
        "system",
        "assistant",
        "assistant",
        "assistant",
        "assistant",
    ]
    for socket in (widget_socket, dashboard):
        await socket.aclose()
