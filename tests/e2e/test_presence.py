"""Presence and collision warnings on one gateway (presence kept in process): agents go
online, away and offline as their sockets say and close; staff see who is viewing and who is
typing, visitors never do."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx

from gateway.handlers.orgs import OrgCredentials
from tests.support import SocketClient, api, bearer


async def second_agent(http: httpx.AsyncClient, org: OrgCredentials, name: str) -> str:
    agent = await api(http, "POST", "/v1/agents", org.api_key, json={"name": name})
    return str(agent["id"])


async def token_of(http: httpx.AsyncClient, org: OrgCredentials, agent_id: str) -> str:
    issued = await api(http, "POST", "/v1/tokens", org.api_key, json={"agent_id": agent_id})
    return str(issued["token"])


async def agent_socket(server: str, token: str) -> SocketClient:
    socket = await SocketClient.open(server)
    await socket.hello(token)
    return socket


def presence_of(socket: SocketClient, agent_id: str) -> list[str]:
    return [
        e["data"]["status"]
        for e in socket.events
        if e["event"] == "presence" and e["data"]["agent_id"] == agent_id
    ]


def events(socket: SocketClient, name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in socket.events if e["event"] == name]


async def statuses(http: httpx.AsyncClient, credential: str) -> dict[str, str]:
    listed = await api(http, "GET", "/v1/agents/presence", credential)
    return {a["agent_id"]: a["status"] for a in listed["data"]}


async def test_presence_follows_what_an_agents_sockets_say(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    ana = org.agent_id
    bo = await second_agent(http, org, "Bo")
    watcher = await agent_socket(server, await token_of(http, org, bo))
    await watcher.call("subscribe", inbox=True)
    ana_token = await token_of(http, org, ana)
    tab = await agent_socket(server, ana_token)
    other_tab = await agent_socket(server, ana_token)
    try:
        assert await statuses(http, org.api_key) == {ana: "offline", bo: "offline"}
        said = await tab.call("presence", status="online")
        assert said == {"agent_id": ana, "name": said["name"], "status": "online"}
        await watcher.wait_for(lambda: presence_of(watcher, ana) == ["online"])
        assert (await statuses(http, org.api_key))[ana] == "online"
        # Online while any socket says online; away once they all say away.
        await other_tab.call("presence", status="away")
        await tab.call("presence", status="away")
        await watcher.wait_for(lambda: presence_of(watcher, ana) == ["online", "away"])
        await tab.call("presence", status="online")
        await watcher.wait_for(lambda: presence_of(watcher, ana)[-1] == "online", 3)
        # The heartbeat (the same op again) changes nothing and says nothing.
        await tab.call("presence", status="online")
        # Closing the online tab leaves the away one; closing that one: offline, at once.
        await tab.aclose()
        await watcher.wait_for(lambda: presence_of(watcher, ana)[-1] == "away")
        assert presence_of(watcher, ana) == ["online", "away", "online", "away"]
        await other_tab.aclose()
        await watcher.wait_for(lambda: presence_of(watcher, ana)[-1] == "offline")
        agent_view = await statuses(http, await token_of(http, org, bo))
        assert agent_view[ana] == "offline"
    finally:
        await watcher.aclose()
        await tab.aclose()
        await other_tab.aclose()


async def test_presence_is_for_agents_and_staff(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    visitor = await agent_socket(server, session["token"])
    try:
        refused = await visitor.request("presence", status="online")
        assert refused["error"]["code"] == "forbidden"
        bad = await visitor.request("presence", status="busy")
        assert bad["error"]["code"] == "validation_error"
    finally:
        await visitor.aclose()
    listed = await http.get("/v1/agents/presence", headers=bearer(session["token"]))
    assert listed.status_code == 403


async def test_staff_see_who_is_viewing_and_typing_visitors_do_not(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    ana = org.agent_id
    ana_name = (await api(http, "GET", f"/v1/agents/{ana}", org.api_key))["name"]
    bo = await second_agent(http, org, "Bo")
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    cid = conversation["id"]
    visitor = await agent_socket(server, session["token"])
    ana_tab = await agent_socket(server, await token_of(http, org, ana))
    bo_tab = await agent_socket(server, await token_of(http, org, bo))
    late = await agent_socket(server, await token_of(http, org, bo))
    try:
        await visitor.call("subscribe", conversation_id=cid)
        first = await bo_tab.call("subscribe", conversation_id=cid)
        assert first["viewers"] == []
        await ana_tab.call("subscribe", conversation_id=cid)
        await ana_tab.call("viewing", conversation_id=cid, on=True)
        await bo_tab.wait_for(lambda: events(bo_tab, "viewing"))
        assert events(bo_tab, "viewing") == [{"agent_id": ana, "name": ana_name, "on": True}]
        # A staff socket that subscribes later learns it from the reply, or from REST.
        joined = await late.call("subscribe", conversation_id=cid)
        assert joined["viewers"] == [{"agent_id": ana, "name": ana_name}]
        viewers = await api(http, "GET", f"/v1/conversations/{cid}/viewers", org.api_key)
        assert viewers == {"data": [{"agent_id": ana, "name": ana_name}]}
        # Typing: staff see who; the visitor gets what it always got.
        await ana_tab.call("typing", conversation_id=cid, on=True)
        await bo_tab.wait_for(lambda: events(bo_tab, "typing"))
        await visitor.wait_for(lambda: events(visitor, "typing"))
        assert events(bo_tab, "typing") == [
            {"on": True, "role": "agent", "sender_id": ana, "agent_id": ana, "name": ana_name}
        ]
        assert events(visitor, "typing") == [{"on": True, "role": "agent", "sender_id": ana}]
        # Closing the tab ends the viewing, for everyone on staff.
        await ana_tab.aclose()
        await bo_tab.wait_for(lambda: len(events(bo_tab, "viewing")) == 2)
        assert events(bo_tab, "viewing")[-1] == {"agent_id": ana, "name": ana_name, "on": False}
        viewers = await api(http, "GET", f"/v1/conversations/{cid}/viewers", org.api_key)
        assert viewers == {"data": []}
        # The visitor, who got the typing event after the viewing one, never saw a viewing.
        assert events(visitor, "viewing") == []
        refused = await visitor.request("viewing", conversation_id=cid, on=True)
        assert refused["error"]["code"] == "forbidden"
        as_visitor = await http.get(
            f"/v1/conversations/{cid}/viewers", headers=bearer(session["token"])
        )
        assert as_visitor.status_code == 403
    finally:
        for socket in (visitor, ana_tab, bo_tab, late):
            await socket.aclose()
