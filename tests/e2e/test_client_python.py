"""The Python client (``gateway.client``) against real gateways: resume, reconnect after a
killed process, REST backfill of a gap, a send retried without a duplicate, refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2 as httpx
import pytest

from bench.services import free_port
from gateway.app import create_app
from gateway.bot.answers import Text
from gateway.client import (
    Backoff,
    Client,
    ClientError,
    ClientState,
    ConversationCreated,
    ConversationUpdated,
    Event,
    MessageDelta,
    NewMessage,
    Typing,
)
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.bots import Gate, Scripted, live_gateway
from tests.processes import gateway_process
from tests.support import api, new_org, timeout
from tests.wsproxy import WsProxy, ws_proxy

pytestmark = pytest.mark.e2e

FAST = Backoff(initial=0.05, cap=0.2)


async def visitor(http: httpx.AsyncClient, org: OrgCredentials) -> tuple[str, str]:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    return session["token"], conversation["id"]


async def say(http: httpx.AsyncClient, token: str, cid: str, *contents: str) -> None:
    for content in contents:
        await api(
            http, "POST", f"/v1/conversations/{cid}/messages", token, json={"content": content}
        )


async def take(client: Client, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(timeout(15)):
        async for event in client.events():
            events.append(event)
            if len(events) == count:
                return events
    raise AssertionError(f"the client stopped after {events}")


def stored(events: list[Event]) -> list[tuple[int, str]]:
    """(seq, content or the new status) of each stored event."""
    out: list[tuple[int, str]] = []
    for event in events:
        if isinstance(event, NewMessage):
            out.append((event.seq, event.message["content"]))
        elif isinstance(event, ConversationUpdated):
            out.append((event.seq, f"status={event.conversation['status']}"))
    return out


@pytest.fixture
async def proxy(server: str) -> AsyncIterator[WsProxy]:
    async with ws_proxy(server.replace("http", "ws") + "/ws") as proxy:
        yield proxy


async def test_client_resumes_after_a_drop_with_only_what_it_missed(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, proxy: WsProxy
) -> None:
    """A client cut off while messages are sent reconnects (backoff), says ``hello`` with
    ``resume: {conversation: last_seq}``, and hands out exactly the missed messages, in order,
    then live ones; typing (volatile) passes through."""
    token, cid = await visitor(http, org)
    await say(http, token, cid, "one", "two")
    async with Client(server, org.api_key, socket_url=proxy.url, backoff=FAST) as client:
        await client.subscribe(cid)
        assert stored(await take(client, 2)) == [(1, "one"), (2, "two")]
        first_session = client.session
        proxy.refusing = True
        proxy.cut()
        await say(http, token, cid, "three", "four")
        proxy.refusing = False
        assert stored(await take(client, 2)) == [(3, "three"), (4, "four")]
        assert client.session is not None and client.session != first_session
        hellos = [f for f in proxy.sent if f["op"] == "hello"]
        assert hellos[-1]["resume"] == {cid: 2}
        await say(http, token, cid, "five")
        await api(http, "POST", f"/v1/conversations/{cid}/messages", token, json={"content": "six"})
        assert stored(await take(client, 2)) == [(5, "five"), (6, "six")]
        assert client.last_seq(cid) == 6


async def test_client_reconnects_to_a_killed_and_restarted_gateway_msgpack(
    tmp_path: Path,
) -> None:
    """SIGKILL the gateway process, start it again on the same port and database: the client
    (msgpack) reconnects by itself and resumes; what was sent while it was away arrives once,
    in order, and a send made while it was down is stored once when it is back."""
    database = f"sqlite:///{tmp_path}/chatgate.db"
    org = await new_org(database, "Acme")
    port = free_port()
    args = ("--database-url", database)
    env = {"CHATGATE_SECRET_KEY": "test-secret-key-of-decent-length!"}
    async with gateway_process(tmp_path / "first", *args, env=env, port=port) as gw:
        async with httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http:
            token, cid = await visitor(http, org)
            await say(http, token, cid, "before")
        client = Client(gw.url, org.api_key, codec="msgpack", backoff=FAST)
        await client.connect()
        await client.subscribe(cid)
        assert stored(await take(client, 1)) == [(1, "before")]
        gw.kill()
        await gw.process.wait()
    send = asyncio.create_task(client.send(cid, "from the bot side", role="bot", epoch=0))
    await asyncio.sleep(0.2)
    assert client.state in (ClientState.RECONNECTING, ClientState.CONNECTING)
    async with (
        gateway_process(tmp_path / "second", *args, env=env, port=port) as gw,
        httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http,
    ):
        await say(http, token, cid, "while away")
        async with asyncio.timeout(timeout(15)):
            sent = await send
        events = stored(await take(client, 2))
        assert sorted(events) == events and [s for s, _ in events] == [2, 3]
        assert {c for _, c in events} == {"while away", "from the bot side"}
        assert sent["seq"] in (2, 3)
        page = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
        assert [m["content"] for m in page["data"]].count("from the bot side") == 1
        await client.aclose()


async def test_client_backfills_a_gap_over_rest(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, proxy: WsProxy
) -> None:
    """Events lost on the way (a message and a status change) leave a gap on the live
    socket: the client fills it from REST (the message from the history, the status change
    from the conversation) and hands out every seq once, in order."""
    token, cid = await visitor(http, org)
    proxy.drop = lambda frame: frame.get("op") == "event" and frame.get("seq") in (2, 3)
    async with Client(server, org.api_key, socket_url=proxy.url, backoff=FAST) as client:
        await client.subscribe(cid)
        await say(http, token, cid, "one", "two")
        await api(
            http, "PATCH", f"/v1/conversations/{cid}", token, json={"status": "agent_requested"}
        )
        await say(http, token, cid, "four")
        events = await take(client, 4)
    assert stored(events) == [(1, "one"), (2, "two"), (3, "status=agent_requested"), (4, "four")]
    dropped = [f for f in proxy.sent if f["op"] == "subscribe"]
    assert len(dropped) == 1, "filled over REST, not by subscribing again"


async def test_client_retries_a_send_cut_off_before_its_reply_without_a_duplicate(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, proxy: WsProxy
) -> None:
    """The connection drops after the send reached the gateway but before its reply: the
    client reconnects and sends it again with the same ``client_message_id``, gets the
    stored message, and the conversation holds it once."""
    _, cid = await visitor(http, org)
    async with Client(server, org.api_key, socket_url=proxy.url, backoff=FAST) as client:
        await client.subscribe(cid)
        proxy.cut_next_send_reply = True
        async with asyncio.timeout(timeout(15)):
            message = await client.send(cid, "only once", role="bot", epoch=0)
        sends = [f for f in proxy.sent if f["op"] == "message.send"]
        assert len(sends) == 2
        assert sends[0]["client_message_id"] == sends[1]["client_message_id"]
        assert message["client_message_id"] == sends[0]["client_message_id"]
        assert stored(await take(client, 1)) == [(1, "only once")]
    page = await api(http, "GET", f"/v1/conversations/{cid}/messages", org.api_key)
    assert [(m["seq"], m["content"]) for m in page["data"]] == [(1, "only once")]


async def test_client_stops_reconnecting_when_refused(
    server: str, http: httpx.AsyncClient, database_url: str, proxy: WsProxy
) -> None:
    """Close 4001 (a token that is not one) and 4003 (a visitor token from an origin its
    widget does not allow) stop the client: ``connect`` raises with the close code, pending
    sends fail, and it never connects again."""
    with pytest.raises(ClientError) as refused:
        async with Client(server, "not-a-token", socket_url=proxy.url, backoff=FAST):
            pass
    assert (refused.value.code, refused.value.close_code) == ("unauthorized", 4001)

    org = await new_org(database_url, "Shop", origins=("https://shop.example",))
    session = await api(
        http,
        "POST",
        f"/v1/widgets/{org.widget_id}/sessions",
        json={},
        headers={"Origin": "https://shop.example"},
    )
    client = Client(server, session["token"], socket_url=proxy.url, backoff=FAST)
    with pytest.raises(ClientError) as forbidden:
        await client.connect()
    assert (forbidden.value.code, forbidden.value.close_code) == ("forbidden", 4003)
    assert client.state is ClientState.CLOSED
    with pytest.raises(ClientError):
        await client.send("00000000-0000-0000-0000-000000000000", "hi")
    # Stopped means the connection loop has ended: nothing is left to connect again.
    assert client._runner is not None and client._runner.done()
    assert proxy.connections == 2
    await client.aclose()


async def test_client_asks_its_token_provider_for_a_new_token_once(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, proxy: WsProxy
) -> None:
    """A refused token (4001) from a token provider: the client asks it once for a fresh one
    (``refresh=True``) and connects with it; a visitor sees typing and the bot's message."""
    token, cid = await visitor(http, org)
    asked: list[bool] = []

    async def provider(refresh: bool) -> str:
        asked.append(refresh)
        return token if refresh else "stale"

    async with Client(server, provider, socket_url=proxy.url, backoff=FAST) as client:
        await client.subscribe(cid)
        await client.typing(cid, True)
        typing = await take(client, 1)
        assert isinstance(typing[0], Typing) and typing[0].on
    assert asked == [False, True]


async def test_client_inbox_and_a_second_connect_after_aclose(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    """Staff follow the org's inbox (a new conversation arrives as ConversationCreated); a
    client closed and connected again resumes its conversations where it stopped."""
    client = Client(server, org.api_key, backoff=FAST)
    await client.connect()
    await client.subscribe_inbox()
    token, cid = await visitor(http, org)
    (created,) = await take(client, 1)
    assert isinstance(created, ConversationCreated) and created.conversation_id == cid
    await client.unsubscribe_inbox()
    await client.subscribe(cid)
    await say(http, token, cid, "one")
    assert stored(await take(client, 1)) == [(1, "one")]
    await client.aclose()
    assert client.state is ClientState.CLOSED
    await say(http, token, cid, "two")
    await client.connect()
    assert stored(await take(client, 1)) == [(2, "two")]
    await client.aclose()


async def test_client_passes_a_streamed_answer_and_its_end_through(
    settings: Settings, database_url: str
) -> None:
    """A bot's turn reaches the client as typing, ``MessageDelta`` pieces and the stored
    ``NewMessage`` under the deltas' message_id; a takeover mid-answer ends the next stream
    with a terminal delta (``done``, ``control_lost``)."""
    gate = Gate()
    scripted = Scripted(
        {"When do you open?": [Text("We open "), Text("at 9.")], "And Sunday?": [Text("Let"), gate]}
    )
    with live_gateway(create_app(settings, answerers=scripted.factory)) as gw:
        org = await new_org(database_url, "Acme")
        async with httpx.AsyncClient(base_url=gw.url, timeout=timeout(30)) as http:
            bot = await api(http, "POST", "/v1/bots", org.api_key, json={"name": "Helper"})
            widget = f"/v1/widgets/{org.widget_id}"
            await api(http, "PATCH", widget, org.api_key, json={"bot_id": bot["id"]})
            token, cid = await visitor(http, org)
            async with Client(gw.url, token, codec="msgpack") as client:
                await client.subscribe(cid)
                await client.send(cid, "When do you open?")
                events = await take(client, 6)
                shown = [type(e).__name__ for e in events]
                streamed = ["Typing", "MessageDelta", "MessageDelta", "NewMessage", "Typing"]
                assert shown == ["NewMessage", *streamed]
                deltas = [e for e in events if isinstance(e, MessageDelta)]
                answer = events[4]
                assert isinstance(answer, NewMessage) and answer.message["role"] == "bot"
                assert [d.text for d in deltas] == ["We open ", "at 9."]
                assert {d.message_id for d in deltas} == {answer.message["id"]}
                assert answer.message["content"] == "We open at 9."

                await client.send(cid, "And Sunday?")
                first = [e for e in await take(client, 3) if isinstance(e, MessageDelta)]
                assert [d.text for d in first] == ["Let"]
                path = f"/v1/conversations/{cid}"
                await api(http, "PATCH", path, token, json={"status": "agent_requested"})
                await api(http, "POST", f"{path}/messages", org.api_key, json={"content": "Ada"})
                end = None
                async with asyncio.timeout(timeout(15)):
                    async for event in client.events():
                        if isinstance(event, MessageDelta) and event.done:
                            end = event
                            break
                gate.open()
                assert end is not None and end.reason == "control_lost"
                assert end.message_id == first[0].message_id
