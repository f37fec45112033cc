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
from typing import Any

from bench.client import Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe
from bench.nodes import Topology
from bench.runner import Outcome, run
from bench.sends import Sends
from bench.sockets import connect

__all__ = ["FanoutLoad", "Room", "execute", "plan"]

NAME = "fanout"
HELP = "rooms x members, paced publishers"
#: What it can load (``--server``).
SERVERS = ("chatgate", "relay", "socketio")

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
    nodes = [node.ws_url for node in topology.started]
    token, ids = topology.conversations(rooms, escalate=True)
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
        self.sends = Sends(self.result, (room.conversation_id for room in plan.rooms))
        self.members: dict[str, list[Socket]] = {}

    async def prepare(self) -> None:
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def member(room: Room, url: str) -> Socket:
            async with semaphore:
                sock = await connect(url, self.plan.token, on_event=self._on_event)
                reply = await sock.request("subscribe", conversation_id=room.conversation_id)
                self.ledgers[sock] = Ledger(reply["last_seq"])
                return sock

        for room in self.plan.rooms:
            self.members[room.conversation_id] = list(
                await asyncio.gather(*(member(room, url) for url in room.member_urls))
            )
            self.publishers.append(await connect(room.publisher_url, self.plan.token))

    def _on_event(self, sock: Socket, frame: dict[str, Any], now: int) -> None:
        self.probe.followed(self.ledgers[sock], frame, now)

    async def run(self, start_ns: int, stop_ns: int) -> None:
        await asyncio.gather(
            *(
                self.sends.pace(
                    sock,
                    room.conversation_id,
                    rate=room.rate,
                    size=room.size,
                    start_ns=start_ns,
                    stop_ns=stop_ns,
                    phase=random.random(),  # rooms out of phase
                )
                for room, sock in zip(self.plan.rooms, self.publishers, strict=True)
            )
        )

    async def drain(self, deadline_ns: int) -> None:
        publishers = {room.conversation_id: room.publisher_url for room in self.plan.rooms}
        await self.sends.settle(publishers, self.plan.token, deadline_ns)
        final = self.sends.final
        while time.monotonic_ns() < deadline_ns:
            if all(
                self.ledgers[sock].last >= final[cid]
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
                checks = checks + self.ledgers[sock].check(self.sends.final[cid])
                if sock.closed.done():  # closed by the gateway (1011: keepalive timeout)
                    self.result.error(f"member closed:{sock.close_code}")
        self.result.checks = checks
        closing = [*self.publishers, *self.ledgers]
        await asyncio.gather(*(s.aclose() for s in closing), return_exceptions=True)
        return self.result
