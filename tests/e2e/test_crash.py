"""A gateway on PostgreSQL killed with SIGKILL while sends stream in (group-committed, so
batches are being written at that moment) loses nothing it acknowledged: after a restart,
every send answered 2xx is stored with the seq it was answered with, and every conversation's
seqs run 1, 2, 3... without a gap."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.processes import gateway_process
from tests.support import api, bearer, eventually, new_org, timeout

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

CONVERSATIONS = 4
#: Sends at once, spread over the conversations.
IN_FLIGHT = 32
#: Acknowledged sends before the kill.
KILL_AFTER = 200


async def stored_seqs(http: httpx.AsyncClient, api_key: str, cid: str) -> dict[str, int]:
    """Every message of the conversation: its seq by id."""
    seqs: dict[str, int] = {}
    while True:
        page = await api(
            http, "GET", f"/v1/conversations/{cid}/messages",
            api_key, params={"after_seq": max(seqs.values(), default=0), "limit": 200},
        )  # fmt: skip
        seqs.update((m["id"], m["seq"]) for m in page["data"])
        if not page["data"]:
            return seqs


async def test_crash_loses_no_acknowledged_send(tmp_path: Path, postgres_url: str) -> None:
    """SIGKILL mid-stream, restart on the same database: every acknowledged send is stored
    with its acknowledged seq, seqs are gap-free, and the next send takes the next seq."""
    org = await new_org(postgres_url, "Acme")
    args = ("--database-url", postgres_url)
    env = {"CHATGATE_ORG_REQUESTS_PER_MINUTE": "0"}
    acked: dict[str, tuple[str, int]] = {}  # message id -> (conversation, seq)
    answers: list[int] = []
    async with gateway_process(tmp_path / "first", *args, env=env) as gateway:
        limits = httpx.Limits(max_connections=IN_FLIGHT)
        async with httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=10) as http:
            conversations = [
                (await api(http, "POST", "/v1/conversations", org.api_key, json={}))["id"]
                for _ in range(CONVERSATIONS)
            ]

            async def send_until_gone(sender: int) -> None:
                for n in range(10_000):
                    cid = conversations[(sender + n) % CONVERSATIONS]
                    body = {"content": f"{sender}:{n}", "role": "visitor"}
                    try:
                        response = await http.post(
                            f"/v1/conversations/{cid}/messages",
                            json=body,
                            headers=bearer(org.api_key),
                        )
                    except httpx.TransportError:  # killed
                        return
                    answers.append(response.status_code)
                    if response.status_code == 201:
                        sent = response.json()
                        acked[sent["id"]] = (cid, sent["seq"])

            senders = [asyncio.create_task(send_until_gone(s)) for s in range(IN_FLIGHT)]
            await eventually(lambda: len(acked) >= KILL_AFTER, 60)
            gateway.kill()
            await gateway.process.wait()
            async with asyncio.timeout(timeout(30)):
                await asyncio.gather(*senders)
    assert set(answers) == {201}
    assert len(acked) >= KILL_AFTER

    async with (
        gateway_process(tmp_path / "second", *args, env=env) as gateway,
        httpx.AsyncClient(base_url=gateway.url, timeout=timeout(30)) as http,
    ):
        for cid in conversations:
            stored = await stored_seqs(http, org.api_key, cid)
            assert sorted(stored.values()) == list(range(1, len(stored) + 1))
            mine = {mid: seq for mid, (c, seq) in acked.items() if c == cid}
            assert mine.items() <= stored.items(), "an acknowledged send was lost"
            conversation = await api(http, "GET", f"/v1/conversations/{cid}", org.api_key)
            assert conversation["last_seq"] == len(stored)
            after = await api(
                http, "POST", f"/v1/conversations/{cid}/messages", org.api_key,
                json={"content": "after the restart", "role": "visitor"},
            )  # fmt: skip
            assert after["seq"] == len(stored) + 1
