"""Per-conversation seq under concurrency, and resume after a drop."""

from __future__ import annotations

import asyncio

import httpx2 as httpx
import pytest

from gateway.handlers.orgs import OrgCredentials
from tests.support import SocketClient, api, bearer


async def visitor(http: httpx.AsyncClient, org: OrgCredentials) -> tuple[str, str]:
    session = await api(http, "POST", f"/v1/widgets/{org.widget_id}/sessions", json={})
    conversation = await api(http, "POST", "/v1/conversations", session["token"], json={})
    return session["token"], conversation["id"]


async def test_sequence_50_concurrent_sends_mixed_rest_and_socket(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    """25 REST and 25 socket sends at once get seqs 1..50: no gap, no duplicate; a
    subscriber sees all 50 events in order."""
    token, cid = await visitor(http, org)
    watcher = await SocketClient.open(server)
    await watcher.hello(token)
    await watcher.call("subscribe", conversation_id=cid)
    senders = [await SocketClient.open(server, codec=c) for c in ("json", "msgpack") * 3]
    for sender in senders:
        await sender.hello(token)

    async def rest_send(n: int) -> int:
        body = await api(
            http, "POST", f"/v1/conversations/{cid}/messages", token, json={"content": f"r{n}"}
        )
        return int(body["seq"])

    async def socket_send(n: int) -> int:
        data = await senders[n % len(senders)].call(
            "message.send", conversation_id=cid, content=f"s{n}"
        )
        return int(data["seq"])

    seqs = await asyncio.gather(
        *(rest_send(n) for n in range(25)), *(socket_send(n) for n in range(25))
    )
    assert sorted(seqs) == list(range(1, 51))
    history = await api(http, "GET", f"/v1/conversations/{cid}/messages?limit=200", token)
    assert [m["seq"] for m in history["data"]] == list(range(1, 51))
    assert sorted(m["content"] for m in history["data"]) == sorted(
        [f"r{n}" for n in range(25)] + [f"s{n}" for n in range(25)]
    )
    events = await watcher.wait_events(50)
    assert [e["seq"] for e in events] == list(range(1, 51))
    for client in (watcher, *senders):
        await client.aclose()


@pytest.mark.parametrize("codec", ["json", "msgpack"])
async def test_sequence_resume_gets_exactly_the_missed_events(
    server: str, http: httpx.AsyncClient, org: OrgCredentials, codec: str
) -> None:
    """A client that drops, misses 20 REST messages and resumes gets exactly those 20 in
    order, then live events, with no duplicate."""
    token, cid = await visitor(http, org)
    url = f"/v1/conversations/{cid}/messages"
    first = await SocketClient.open(server, codec=codec)
    await first.hello(token)
    await first.call("subscribe", conversation_id=cid)
    for n in range(3):
        await api(http, "POST", url, token, json={"content": f"before {n}"})
    seen = await first.wait_events(3)
    last_seq = seen[-1]["seq"]
    await first.aclose()

    for n in range(20):
        await api(http, "POST", url, token, json={"content": f"missed {n}"})

    second = await SocketClient.open(server, codec=codec)
    hello = await second.hello(token, resume={cid: last_seq})
    assert hello["resume"][cid] == {"ok": True, "last_seq": 23}
    replayed = await second.wait_events(20)
    assert [e["seq"] for e in replayed] == list(range(4, 24))
    assert [e["data"]["content"] for e in replayed] == [f"missed {n}" for n in range(20)]
    await api(http, "POST", url, token, json={"content": "live"})
    events = await second.wait_events(21)
    assert events[-1]["seq"] == 24 and events[-1]["data"]["content"] == "live"
    await second.call("ping")
    assert len(second.events) == 21, "no duplicate"
    await second.aclose()


async def test_sequence_idempotency_key_concurrent_requests_have_one_effect(
    server: str, http: httpx.AsyncClient, org: OrgCredentials
) -> None:
    """Ten concurrent POSTs with one Idempotency-Key store one message; all get its body,
    the others marked as replays."""
    token, cid = await visitor(http, org)
    url = f"/v1/conversations/{cid}/messages"
    headers = {**bearer(token), "Idempotency-Key": "send-once"}
    responses = await asyncio.gather(
        *(http.post(url, json={"content": "once"}, headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9
    history = await api(http, "GET", url, token)
    assert [m["content"] for m in history["data"]] == ["once"]
    conflict = await http.post(url, json={"content": "other"}, headers=headers)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    elsewhere = await http.post(
        "/v1/conversations", json={}, headers={**bearer(token), "Idempotency-Key": "send-once"}
    )
    assert elsewhere.status_code == 201, "keys are scoped to the path"
