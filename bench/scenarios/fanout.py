"""``fanout``: R rooms x M members spread over the nodes; one publisher per room sends
``message.send`` at a paced rate (open loop: a late reply never delays the next send).

Member j of room r connects to node (r + j) mod N and the room's publisher to node r mod N,
so with several nodes most deliveries cross nodes through Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.client import RequestError, Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe, stamp, stamped_at
from bench.nodes import Topology
from bench.rest import Rest, gather_limited
from bench.runner import Outcome, run

__all__ = ["FanoutLoad", "Room", "execute", "plan"]

NAME = "fanout"
HELP = "rooms x members, paced publishers"

#: Sockets one worker opens at once while preparing.
CONNECT_CONCURRENCY = 64


@dataclass(frozen=True, slots=True)
class Room:
    conversation_id: str
    publisher_url: str
    member_urls: tuple[str, ...]
    rate: float
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    token: str
    rooms: tuple[Room, ...]


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--members", type=int, default=20, help="subscribers per room")
    parser.add_argument("--rate", type=float, default=40000, help="deliveries per second")
    parser.add_argument("--size", type=int, default=100, help="message length")


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    plans = plan(
        topology,
        rooms=args.rooms,
        members=args.members,
        rate=args.rate,
        size=args.size,
        workers=args.workers,
    )
    outcome = run(
        FanoutLoad, plans, topology, duration=args.duration, label=NAME, progress=not args.quiet
    )
    return outcome, {"offered_deliveries_per_second": args.rate}


def plan(
    topology: Topology, *, rooms: int, members: int, rate: float, size: int, workers: int
) -> list[Plan]:
    """Create the rooms; ``rate`` is deliveries per second over all rooms."""
    credentials = topology.credentials
    nodes = [node.ws_url for node in topology.started]

    async def setup() -> tuple[str, list[str]]:
        async with Rest(topology.started[0].url, credentials["api_key"]) as rest:
            token = await rest.agent_token(credentials["agent_id"])
            ids = await gather_limited(
                [
                    lambda: rest.conversation(credentials["widget_id"], escalate=True)
                    for _ in range(rooms)
                ]
            )
            return token, ids

    token, ids = asyncio.run(setup())
    per_room = rate / (rooms * members)
    built = [
        Room(
            cid,
            nodes[r % len(nodes)],
            tuple(nodes[(r + j) % len(nodes)] for j in range(members)),
            per_room,
            size,
        )
        for r, cid in enumerate(ids)
    ]
    return [Plan(token, tuple(built[w::workers])) for w in range(workers) if built[w::workers]]


class FanoutLoad(Load):
    plan: Plan

    def __init__(self, plan: Plan, probe: Probe) -> None:
        super().__init__(plan, probe)
        self.ledgers: dict[Socket, Ledger] = {}
        self.publishers: list[Socket] = []
        self.final: dict[str, int] = {}
        self.pending: set[asyncio.Future[Any]] = set()
        self.members: dict[str, list[Socket]] = {}

    async def prepare(self) -> None:
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def member(room: Room, url: str) -> Socket:
            async with semaphore:
                sock = await Socket.open(url, self.plan.token, on_event=self._on_event)
                reply = await sock.request("subscribe", conversation_id=room.conversation_id)
                self.ledgers[sock] = Ledger(reply["last_seq"])
                return sock

        for room in self.plan.rooms:
            self.final[room.conversation_id] = 0
            self.members[room.conversation_id] = list(
                await asyncio.gather(*(member(room, url) for url in room.member_urls))
            )
            self.publishers.append(await Socket.open(room.publisher_url, self.plan.token))

    def _on_event(self, sock: Socket, frame: dict[str, Any], now: int) -> None:
        seq = frame.get("seq")
        if seq is None:
            return
        self.ledgers[sock].seqs.append(seq)
        if frame["event"] == "new_message":
            self.probe.delivered(stamped_at(frame["data"].get("content")), now)

    async def run(self, start_ns: int, stop_ns: int) -> None:
        await asyncio.gather(
            *(
                self._publish(room, sock, start_ns, stop_ns)
                for room, sock in zip(self.plan.rooms, self.publishers, strict=True)
            )
        )

    async def _publish(self, room: Room, sock: Socket, start_ns: int, stop_ns: int) -> None:
        interval = int(1e9 / room.rate)
        due = start_ns + random.randrange(interval)  # rooms out of phase
        result = self.result
        while due < stop_ns:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            result.lag.append((now - due) // 1000)
            future = sock.send(
                "message.send", conversation_id=room.conversation_id, content=stamp(room.size, now)
            )
            result.sent += 1
            self.pending.add(future)
            future.add_done_callback(partial(self._acked, room.conversation_id))
            due += interval

    def _acked(self, conversation_id: str, future: asyncio.Future[Any]) -> None:
        self.pending.discard(future)
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self.result.acked += 1
            seq = future.result()["seq"]
            self.final[conversation_id] = max(self.final[conversation_id], seq)
        else:
            self.result.error(error.code if isinstance(error, RequestError) else "closed")

    async def drain(self, deadline_ns: int) -> None:
        if self.pending:
            left = (deadline_ns - time.monotonic_ns()) / 1e9
            await asyncio.wait(tuple(self.pending), timeout=max(0.0, left))
        # A send whose reply never came (the drain ran out) may still have been stored: the
        # gateway's own last seq is what every member must reach.
        # (On a socket of its own: a publisher may have been closed by an overloaded run.)
        asking = await Socket.open(self.plan.rooms[0].publisher_url, self.plan.token)
        for room in self.plan.rooms:
            cid = room.conversation_id
            self.final[cid] = max(self.final[cid], await asking.last_seq(cid))
        await asking.aclose()
        while time.monotonic_ns() < deadline_ns:
            if all(
                self.ledgers[sock].last >= self.final[cid]
                for cid, socks in self.members.items()
                for sock in socks
            ):
                return
            await asyncio.sleep(0.05)

    async def finish(self) -> Any:
        for sock in self.publishers:
            if sock.closed.done():
                self.result.error(f"publisher closed:{sock.close_code}")
        checks = Checks()
        for cid, socks in self.members.items():
            for sock in socks:
                checks = checks + self.ledgers[sock].check(self.final[cid])
                if sock.closed.done():  # closed by the gateway (1011: keepalive timeout)
                    self.result.error(f"member closed:{sock.close_code}")
        self.result.checks = checks
        closing = [*self.publishers, *self.ledgers]
        await asyncio.gather(*(s.aclose() for s in closing), return_exceptions=True)
        return self.result
