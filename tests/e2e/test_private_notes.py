"""Private notes end to end, on SQLite and PostgreSQL: a note written by an agent reaches the
staff (sockets, REST, webhooks marked private) and nothing the visitor or a channel sees (the
visitor's socket, its resume, its REST history, the channel endpoints, Awardee reads); it
takes nothing over and is no first response."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.receiver import Receiver, receiver
from tests.support import SocketClient, api, bearer, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/chatgate.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(
        webhook_allowed_hosts="127.0.0.1", webhook_poll_interval=0.1, webhook_timeout=2
    )


async def visitor_conversation(
    http: httpx.AsyncClient, org: OrgCredentials, **start: Any
) -> tuple[str, str]:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json=start)
    return session["token"], conversation["id"]


async def agent_token(http: httpx.AsyncClient, org: OrgCredentials) -> str:
    issued = await api(http, "POST", "/v1/tokens", org.api_key, json={"agent_id": org.agent_id})
    return str(issued["token"])


def messages_of(socket: SocketClient) -> list[dict[str, Any]]:
    return [e["data"] for e in socket.events if e["event"] == "new_message"]


async def test_a_private_note_reaches_exactly_the_staff_and_webhooks(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    await api(http, "POST", "/v1/webhooks", org.api_key, json={"url": hooks.url + "/events"})
    visitor, cid = await visitor_conversation(http, org)
    agent = await agent_token(http, org)
    watcher = await SocketClient.open(server)
    staff = await SocketClient.open(server)
    try:
        await watcher.hello(visitor)
        await watcher.call("subscribe", conversation_id=cid)
        await staff.hello(agent)
        await staff.call("subscribe", conversation_id=cid)
        await watcher.call("message.send", conversation_id=cid, content="hello?")
        note = await staff.call(
            "message.send", conversation_id=cid, content="VIP: be nice", private=True
        )
        assert note["private"] is True and note["seq"] == 2 and note["role"] == "agent"
        # A note takes nothing over and is no first response.
        conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
        assert conversation["handler"] == "bot" and conversation["status"] == "bot_active"
        assert conversation["first_response_at"] is None
        await watcher.call("conversation.update", conversation_id=cid, status="agent_requested")
        await api(
            http,
            "POST",
            f"/v1/conversations/{cid}/messages",
            org.api_key,
            json={"content": "Hi, Ana here", "agent_id": org.agent_id},
        )
        await staff.wait_for(lambda: "Hi, Ana here" in [m["content"] for m in messages_of(staff)])
        await watcher.wait_for(
            lambda: "Hi, Ana here" in [m["content"] for m in messages_of(watcher)]
        )
        assert [m["content"] for m in messages_of(staff) if m.get("private")] == ["VIP: be nice"]
        seen = [m["content"] for m in messages_of(watcher)]
        assert "VIP: be nice" not in seen and "hello?" in seen
    finally:
        await watcher.aclose()
        await staff.aclose()

    # The visitor's history and resume leave the note out (its seq is a gap); staff read it.
    history = await api(http, "GET", f"/v1/conversations/{cid}/messages", visitor)
    assert "VIP: be nice" not in [m["content"] for m in history["data"]]
    assert all(m["private"] is False for m in history["data"])
    staff_history = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
    (shown,) = [m for m in staff_history["data"] if m["content"] == "VIP: be nice"]
    assert shown["private"] is True
    resumed = await SocketClient.open(server)
    try:
        await resumed.hello(visitor, resume={cid: 0})
        await resumed.wait_for(
            lambda: "Hi, Ana here" in [m["content"] for m in messages_of(resumed)]
        )
        assert "VIP: be nice" not in [m["content"] for m in messages_of(resumed)]
        assert 2 not in [e["seq"] for e in resumed.events]
    finally:
        await resumed.aclose()

    # Webhooks carry the note, marked private.
    def delivered() -> list[dict[str, Any]]:
        return [
            r.json["data"]["message"] for r in hooks.requests if r.json["type"] == "message.created"
        ]

    await eventually(lambda: len(delivered()) >= 3, 10)
    (hooked,) = [m for m in delivered() if m["content"] == "VIP: be nice"]
    assert hooked["private"] is True


async def test_a_private_note_never_reaches_a_channel_or_an_awardee_read(
    http: httpx.AsyncClient, org: OrgCredentials, hooks: Receiver
) -> None:
    await api(
        http,
        "POST",
        "/v1/webhooks",
        org.api_key,
        json={"url": hooks.url + "/ch", "kind": "channel"},
    )
    conversation = await api(
        http, "POST", "/v1/conversations", org.api_key, json={"channel": "api"}
    )
    cid = conversation["id"]
    say = f"/v1/conversations/{cid}/messages"
    patch = f"/v1/conversations/{cid}"
    await api(http, "PATCH", patch, org.api_key, json={"status": "agent_requested"})
    await api(http, "POST", say, org.api_key, json={"content": "secret", "private": True})
    await api(http, "POST", say, org.api_key, json={"content": "public"})

    def sent() -> list[str]:
        return [r.json["data"]["message"]["content"] for r in hooks.requests]

    await eventually(lambda: "public" in sent(), 10)
    assert "secret" not in sent()
    awardee = await http.get(f"/conversations/{cid}/messages", headers=bearer(org.api_key))
    assert awardee.status_code == 200, awardee.text
    assert "secret" not in awardee.text and "public" in awardee.text


async def test_only_staff_write_private_notes(http: httpx.AsyncClient, org: OrgCredentials) -> None:
    visitor, cid = await visitor_conversation(http, org)
    say = f"/v1/conversations/{cid}/messages"
    by_visitor = await http.post(
        say, json={"content": "x", "private": True}, headers=bearer(visitor)
    )
    assert by_visitor.status_code == 403
    assert by_visitor.json()["error"]["code"] == "forbidden"
    for role in ("visitor", "bot", "live_agent"):
        as_role = await http.post(
            say,
            json={"content": "x", "private": True, "role": role},
            headers=bearer(org.api_key),
        )
        assert as_role.status_code == 422, as_role.text
        assert as_role.json()["error"]["details"]["path"] == "$.role"
    # Notes are welcome in any status: a resolved conversation takes one and stays resolved.
    patch = f"/v1/conversations/{cid}"
    await api(http, "PATCH", patch, org.api_key, json={"status": "agent_requested"})
    await api(http, "PATCH", patch, org.api_key, json={"status": "resolved"})
    noted = await api(
        http, "POST", say, org.api_key, json={"content": "follow up", "private": True}
    )
    assert noted["private"] is True
    after = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
    assert after["status"] == "resolved"


async def test_a_visitor_never_gets_a_note_back_by_its_client_message_id(
    http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    visitor, cid = await visitor_conversation(http, org)
    say = f"/v1/conversations/{cid}/messages"
    note = {"content": "secret", "private": True, "client_message_id": "c-1"}
    await api(http, "POST", say, org.api_key, json=note)
    retried = await http.post(
        say, json={"content": "hi", "client_message_id": "c-1"}, headers=bearer(visitor)
    )
    assert retried.status_code == 409 and "secret" not in retried.text
