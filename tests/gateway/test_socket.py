"""The WebSocket protocol, in-process (TestClient)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgpack
import orjson
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import bearer


class Socket:
    """Sync helper over TestClient's websocket session, for either codec."""

    def __init__(self, ws: Any, binary: bool) -> None:
        self.ws = ws
        self.binary = binary
        self.events: list[dict[str, Any]] = []

    def send(self, frame: dict[str, Any]) -> None:
        if self.binary:
            self.ws.send_bytes(msgpack.packb(frame))
        else:
            self.ws.send_text(orjson.dumps(frame).decode())

    def receive(self) -> list[dict[str, Any]]:
        raw = self.ws.receive_bytes() if self.binary else self.ws.receive_text()
        frame = msgpack.unpackb(raw) if self.binary else orjson.loads(raw)
        return frame if isinstance(frame, list) else [frame]

    def reply(self, ref: Any) -> dict[str, Any]:
        """Read frames until the reply to ``ref``; events met on the way are kept."""
        while True:
            for item in self.receive():
                if item["op"] == "reply" and item["ref"] == ref:
                    return item
                self.events.append(item)

    def call(self, op: str, ref: Any = None, **fields: Any) -> dict[str, Any]:
        ref = ref if ref is not None else f"{op}-{len(self.events)}"
        self.send({"op": op, "ref": ref, **fields})
        return self.reply(ref)

    def event(self) -> dict[str, Any]:
        while not self.events:
            self.events.extend(self.receive())
        return self.events.pop(0)


@contextmanager
def socket(client: TestClient, codec: str = "json", **kw: Any) -> Iterator[Socket]:
    with client.websocket_connect("/ws", subprotocols=[f"chatgate.{codec}"], **kw) as ws:
        yield Socket(ws, binary=codec == "msgpack")


def visitor(client: TestClient, org: OrgCredentials) -> tuple[str, str]:
    """A visitor token and a new conversation of theirs."""
    token = client.post(
        f"/v1/widgets/{org.widget_id}/sessions", json={}, headers={"Origin": "https://a.example"}
    ).json()["token"]
    conversation = client.post("/v1/conversations", json={}, headers=bearer(token)).json()
    return token, conversation["id"]


def agent_token(client: TestClient, org: OrgCredentials) -> str:
    issued = client.post("/v1/tokens", json={"agent_id": org.agent_id}, headers=bearer(org.api_key))
    return str(issued.json()["token"])


def close_code(ws: Socket) -> int:
    with pytest.raises(WebSocketDisconnect) as info:
        while True:
            ws.receive()
    return info.value.code


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_socket_send_and_receive_events_in_seq_order(
    client: TestClient, org: OrgCredentials, codec: str
) -> None:
    """A subscriber gets new_message and conversation.updated with consecutive seqs."""
    token, cid = visitor(client, org)
    with socket(client, codec) as ws:
        hello = ws.call("hello", ref=1, token=token)
        assert hello["ok"] and hello["data"]["principal"]["kind"] == "visitor"
        subscribed = ws.call("subscribe", conversation_id=cid)
        assert subscribed["data"] == {"conversation_id": cid, "last_seq": 0}
        sent = ws.call("message.send", conversation_id=cid, content="hello")
        assert sent["ok"] and sent["data"]["seq"] == 1 and sent["data"]["content"] == "hello"
        asked = ws.call("conversation.update", conversation_id=cid, status="agent_requested")
        assert asked["data"]["status"] == "agent_requested"
        first, second = ws.event(), ws.event()
        assert (first["event"], first["seq"]) == ("new_message", 1)
        assert first["data"]["content"] == "hello"
        assert (second["event"], second["seq"]) == ("conversation.updated", 2)
        assert second["data"]["changes"] == {"status": ["bot_active", "agent_requested"]}


def test_socket_agent_reply_reaches_visitor_with_takeover(
    client: TestClient, org: OrgCredentials
) -> None:
    """The visitor sees the status change, the marker and the agent's reply, in order."""
    token, cid = visitor(client, org)
    with socket(client) as visitor_ws, socket(client, "msgpack") as agent_ws:
        visitor_ws.call("hello", token=token)
        visitor_ws.call("subscribe", conversation_id=cid)
        visitor_ws.call("conversation.update", conversation_id=cid, status="agent_requested")
        agent_ws.call("hello", token=agent_token(client, org))
        reply = agent_ws.call("message.send", conversation_id=cid, content="I'm here")
        assert reply["ok"], reply
        events = [visitor_ws.event() for _ in range(4)]
        assert [e["seq"] for e in events] == [1, 2, 3, 4]
        assert events[1]["data"]["changes"]["status"] == ["agent_requested", "open"]
        assert events[2]["data"]["role"] == "system"
        assert events[3]["data"]["content"] == "I'm here"
        assert events[3]["data"]["sender_id"] == org.agent_id


def test_socket_subscribe_after_seq_replays_then_goes_live(
    client: TestClient, org: OrgCredentials
) -> None:
    """after_seq replays the stored events after it, then live ones follow."""
    token, cid = visitor(client, org)
    for n in range(5):
        client.post(
            f"/v1/conversations/{cid}/messages", json={"content": f"m{n}"}, headers=bearer(token)
        )
    with socket(client) as ws:
        ws.call("hello", token=token)
        ws.call("subscribe", conversation_id=cid, after_seq=2)
        replayed = [ws.event() for _ in range(3)]
        assert [e["seq"] for e in replayed] == [3, 4, 5]
        ws.call("message.send", conversation_id=cid, content="live")
        assert ws.event()["seq"] == 6


def test_socket_hello_resume_replays_missed_events(client: TestClient, org: OrgCredentials) -> None:
    """hello.resume reports each conversation and replays what was missed."""
    token, cid = visitor(client, org)
    _, foreign = visitor(client, org)
    for n in range(3):
        client.post(
            f"/v1/conversations/{cid}/messages", json={"content": f"m{n}"}, headers=bearer(token)
        )
    with socket(client) as ws:
        hello = ws.call("hello", token=token, resume={cid: 1, foreign: 0})
        assert hello["data"]["resume"][cid] == {"ok": True, "last_seq": 3}
        assert hello["data"]["resume"][foreign]["error"]["code"] == "not_found"
        assert [ws.event()["seq"] for _ in range(2)] == [2, 3]


def test_socket_typing_and_read_are_volatile(client: TestClient, org: OrgCredentials) -> None:
    """typing and read reach subscribers with seq null and take no seq."""
    token, cid = visitor(client, org)
    with socket(client) as ws:
        ws.call("hello", token=token)
        ws.call("subscribe", conversation_id=cid)
        assert ws.call("typing", conversation_id=cid, on=True)["ok"]
        typing = ws.event()
        assert typing["event"] == "typing" and typing["seq"] is None
        assert typing["data"]["on"] is True and typing["data"]["role"] == "visitor"
        ws.call("message.send", conversation_id=cid, content="x")
        ws.event()
        read = ws.call("read", conversation_id=cid, seq=99)
        assert read["data"] == {"conversation_id": cid, "seq": 1}, "clamped to last_seq"
        assert ws.event()["event"] == "read"
        assert ws.call("message.send", conversation_id=cid, content="y")["data"]["seq"] == 2


def test_socket_unsubscribe_stops_events(client: TestClient, org: OrgCredentials) -> None:
    """After unsubscribe no event of that conversation arrives."""
    token, cid = visitor(client, org)
    with socket(client) as ws:
        ws.call("hello", token=token)
        ws.call("subscribe", conversation_id=cid)
        assert ws.call("unsubscribe", conversation_id=cid)["ok"]
        ws.call("message.send", conversation_id=cid, content="unseen")
        assert ws.call("ping", ref="p")["data"] == {"pong": True}
        assert ws.events == []


def test_socket_inbox_sees_created_and_updated(client: TestClient, org: OrgCredentials) -> None:
    """An agent's inbox gets conversation.created and conversation.updated of the org."""
    with socket(client) as ws:
        ws.call("hello", token=agent_token(client, org))
        assert ws.call("subscribe", inbox=True)["data"] == {"inbox": True}
        token, cid = visitor(client, org)
        client.patch(
            f"/v1/conversations/{cid}", json={"status": "agent_requested"}, headers=bearer(token)
        )
        created, updated = ws.event(), ws.event()
        assert created["event"] == "conversation.created" and created["seq"] == 0
        assert updated["event"] == "conversation.updated"
        assert updated["data"]["changes"]["status"] == ["bot_active", "agent_requested"]
        assert ws.call("unsubscribe", inbox=True)["data"] == {"inbox": False}


def test_socket_visitor_has_no_inbox(client: TestClient, org: OrgCredentials) -> None:
    """Visitors are refused the org inbox and other visitors' conversations."""
    token, _ = visitor(client, org)
    _, foreign = visitor(client, org)
    with socket(client) as ws:
        ws.call("hello", token=token)
        assert ws.call("subscribe", inbox=True)["error"]["code"] == "forbidden"
        assert ws.call("subscribe", conversation_id=foreign)["error"]["code"] == "not_found"
        denied = ws.call("message.send", conversation_id=foreign, content="hi")
        assert denied["error"]["code"] == "not_found"


def test_socket_first_frame_must_be_hello(client: TestClient) -> None:
    """Another op first closes with 4001; an undecodable first frame with 4400."""
    with socket(client) as ws:
        ws.send({"op": "ping"})
        assert close_code(ws) == 4001
    with socket(client) as ws:
        ws.ws.send_text("{not json")
        assert close_code(ws) == 4400


@pytest.mark.parametrize("token", ["", "forged.jwt.token", "cgk_not-a-real-key"])
def test_socket_bad_token_closes_4001(client: TestClient, token: str) -> None:
    """A missing, forged or unknown credential closes with 4001."""
    with socket(client) as ws:
        ws.send({"op": "hello", "token": token})
        assert close_code(ws) == 4001


def test_socket_hello_timeout_closes_4001(database_url: str) -> None:
    """No hello within hello_timeout closes with 4001."""
    settings = Settings(database_url=database_url, secret_key="s" * 32, hello_timeout=0.05)
    with TestClient(create_app(settings)) as client, socket(client) as ws:
        assert close_code(ws) == 4001


def test_socket_visitor_origin_is_checked(client: TestClient, org: OrgCredentials) -> None:
    """A visitor token used from an origin the widget does not allow closes with 4003."""
    token, _ = visitor(client, org)
    client.patch(
        f"/v1/widgets/{org.widget_id}",
        json={"allowed_origins": ["https://a.example"]},
        headers=bearer(org.api_key),
    )
    with socket(client, headers={"Origin": "https://a.example"}) as ws:
        assert ws.call("hello", token=token)["ok"]
    with socket(client, headers={"Origin": "https://evil.example"}) as ws:
        ws.send({"op": "hello", "token": token})
        assert close_code(ws) == 4003


def test_socket_oversize_frame_closes_1009(client: TestClient, org: OrgCredentials) -> None:
    """A frame over 64 KiB closes the socket with 1009 (message too big)."""
    token, cid = visitor(client, org)
    with socket(client) as ws:
        ws.call("hello", token=token)
        ws.send({"op": "message.send", "conversation_id": cid, "content": "x" * 70_000})
        assert close_code(ws) == 1009


def test_socket_unknown_subprotocol_is_refused(client: TestClient) -> None:
    """Offering only subprotocols we do not speak refuses the handshake."""
    with (
        pytest.raises((WebSocketDisconnect, WebSocketDenialResponse)),
        client.websocket_connect("/ws", subprotocols=["graphql-ws"]) as ws,
    ):
        ws.receive_text()


def test_socket_second_hello_is_an_error_reply(client: TestClient, org: OrgCredentials) -> None:
    """hello twice answers bad_request and the socket stays usable."""
    token, _ = visitor(client, org)
    with socket(client) as ws:
        ws.call("hello", token=token)
        assert ws.call("hello", token=token)["error"]["code"] == "bad_request"
        assert ws.call("ping")["ok"]
