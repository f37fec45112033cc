"""Delivery checking under faults: resilient followers, retrying senders, and a checker that
counts what was lost, duplicated or out of order, per follower and conversation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import msgpack
import orjson
from websockets.asyncio.client import connect

from tests.support import bearer, timeout

__all__ = ["Follower", "Report", "Sender"]


@dataclass
class Report:
    """What one follower saw."""

    received: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    message_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    duplicates: int = 0
    out_of_order: int = 0
    gaps: int = 0
    reconnects: int = 0

    def record(self, event: dict[str, Any]) -> None:
        cid, seq = event["conversation_id"], event["seq"]
        if seq is None:
            return
        seen = self.received[cid]
        last = seen[-1] if seen else 0
        if seq <= last:
            self.duplicates += 1 if seq in seen else 0
            self.out_of_order += 0 if seq in seen else 1
            return
        if seq > last + 1:
            self.gaps += 1
        seen.append(seq)
        if event["event"] == "new_message":
            self.message_ids[cid].add(event["data"]["id"])

    def last(self, cid: str) -> int:
        return self.received[cid][-1] if self.received[cid] else 0


class Follower:
    """Follows conversations through any live node: on a drop it reconnects to the next
    node and resumes from the last seq it holds, like a real client."""

    def __init__(self, urls: list[str], token: str, conversations: list[str], binary: bool):
        self.urls = urls
        self.token = token
        self.conversations = conversations
        self.binary = binary
        self.report = Report()
        self._start = next(_rotation)
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def caught_up(self, last_seqs: dict[str, int], seconds: float) -> None:
        async with asyncio.timeout(timeout(seconds)):
            while any(self.report.last(c) < s for c, s in last_seqs.items()):
                self._changed.clear()
                await self._changed.wait()

    async def _run(self) -> None:
        for attempt in itertools.count(self._start):
            url = self.urls[attempt % len(self.urls)].replace("http://", "ws://") + "/ws"
            with contextlib.suppress(Exception):  # any failure: next node, resume
                await self._follow(url)
            self.report.reconnects += 1
            await asyncio.sleep(0.05)

    async def _follow(self, url: str) -> None:
        codec = "msgpack" if self.binary else "json"
        async with connect(url, subprotocols=[f"chatgate.{codec}"], compression=None,  # type: ignore[list-item]
                           open_timeout=5) as ws:  # fmt: skip
            resume = {cid: self.report.last(cid) for cid in self.conversations}
            hello = {"op": "hello", "ref": "h", "token": self.token, "resume": resume}
            await ws.send(msgpack.packb(hello) if self.binary else orjson.dumps(hello).decode())
            async for raw in ws:
                frame = msgpack.unpackb(raw) if self.binary else orjson.loads(raw)
                for item in frame if isinstance(frame, list) else [frame]:
                    if item["op"] == "event":
                        self.report.record(item)
                    elif not item["ok"] or not all(
                        outcome["ok"] for outcome in item["data"]["resume"].values()
                    ):
                        raise RuntimeError(f"hello or resume refused: {item}")
                self._changed.set()


_rotation = itertools.count()


class Sender:
    """Sends messages to one conversation through rotating nodes, retrying a failed send
    on the next node with the same client_message_id (so a retry is never a duplicate)."""

    def __init__(self, urls: list[str], credential: str, conversation_id: str) -> None:
        self.urls = urls
        self.credential = credential
        self.conversation_id = conversation_id
        self.acked: dict[str, int] = {}  # message id -> seq
        self.retries = 0
        self._turn = next(_rotation)

    async def send(self, http: dict[str, httpx.AsyncClient], count: int) -> None:
        for n in range(count):
            client_id = f"{self.conversation_id}:{n}:{uuid.uuid4().hex[:6]}"
            body = {"content": f"m{n}", "role": "visitor", "client_message_id": client_id}
            while True:
                url = self.urls[self._turn % len(self.urls)]
                self._turn += 1
                try:
                    response = await http[url].post(
                        f"/v1/conversations/{self.conversation_id}/messages",
                        json=body,
                        headers=bearer(self.credential),
                    )
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 201:
                    sent = response.json()
                    self.acked[sent["id"]] = sent["seq"]
                    break
                self.retries += 1
                await asyncio.sleep(0.02)
