"""``storm``: every client drops at once and reconnects with ``resume``, while messages keep
coming.

``--clients`` agent sockets follow conversations, ``--per-conversation`` each; client j of
conversation c connects to node (c + j) mod N. One publisher socket per conversation (on node
c mod N) sends paced ``message.send`` through the whole window (``--rate`` messages per second
over all conversations): before, during and after the storm. At ``--drop-at`` seconds into the
window every client of every worker cuts its connection (``Socket.drop``: no close handshake)
at the same moment, then at once opens a new one with ``hello`` and
``resume: {conversation: highest seq received}``, to the next node, (c + j + 1) mod N, as a
load balancer might send it anywhere. The gateway answers the resume with the conversation's
``last_seq``, replays what the client missed, then goes live. A connection that fails is
retried (from 0.1 s, doubling up to 2 s, with jitter) until the drain ends; each failed
attempt counts in ``reconnect_failures``.

Measured from the drop (the moment shared by every worker): ``hello_seconds``, until each
client's hello reply; ``resume_seconds``, until each client has every event up to the
``last_seq`` its resume reply named (caught up). ``resume_seconds_max`` is when the last client
caught up (None if one never did).

Checks: one ``Ledger`` per client, kept across its two connections (events that arrive on
the new socket before its hello reply count too), from its first ``subscribe`` to the
conversation's final ``last_seq`` (as the gateway gives it after the sends): nothing
lost, duplicated or out of order across the reconnect.

Each worker raises its soft open-files limit to the hard one; with ten thousand clients use
several workers (``--workers``) to stay under the hard limit of each.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench.client import RequestError, Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe
from bench.nodes import Topology, raise_open_files
from bench.rest import agent_and_conversations
from bench.runner import Outcome, run
from bench.sends import Sends

__all__ = ["Client", "Group", "StormLoad", "execute", "plan"]

NAME = "storm"
HELP = "every client drops at once and resumes"

#: Sockets one worker opens at once while preparing (the storm itself has no such limit).
CONNECT_CONCURRENCY = 128
#: Seconds after the window for the stragglers to reconnect and catch up.
DRAIN_SECONDS = 30.0
#: Seconds one reconnection attempt may take (connect, handshake, hello).
RECONNECT_WITHIN = 30.0
#: Reconnections a worker starts per loop iteration during the storm.
RECONNECT_BATCH = 100
#: Retry delays after a failed reconnection: first, cap (seconds).
BACKOFF = (0.1, 2.0)

#: Per-client figures in ``extra`` (lists, joined over workers), reduced by ``execute``.
HELLO_MS = "storm_hello_ms"
CAUGHT_MS = "storm_caught_ms"
DROP_SPREAD_MS = "storm_drop_spread_ms"


@dataclass(frozen=True, slots=True)
class Group:
    """A conversation, its publisher and its clients."""

    conversation_id: str
    publisher_url: str
    client_urls: tuple[str, ...]
    #: Where each client reconnects.
    resume_urls: tuple[str, ...]
    rate: float
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    token: str
    drop_at: float
    groups: tuple[Group, ...]


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument(
        "--per-conversation", type=int, default=10, help="clients following one conversation"
    )
    parser.add_argument("--rate", type=float, default=200, help="messages per second")
    parser.add_argument("--size", type=int, default=100, help="message length")
    parser.add_argument(
        "--drop-at", type=float, help="seconds into the window (default: a third of --duration)"
    )


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    drop_at = args.duration / 3 if args.drop_at is None else args.drop_at
    if not 0 <= drop_at < args.duration:
        raise SystemExit("--drop-at must fall within the window (0 <= drop-at < duration)")
    plans = plan(
        topology,
        clients=args.clients,
        per_conversation=args.per_conversation,
        rate=args.rate,
        size=args.size,
        drop_at=drop_at,
        workers=args.workers,
    )
    outcome = run(
        StormLoad,
        plans,
        topology,
        duration=args.duration,
        drain=DRAIN_SECONDS,
        label=NAME,
        progress=not args.quiet,
    )
    extra = outcome.result.extra
    hello = np.asarray(extra.pop(HELLO_MS, []), dtype=np.float64) / 1000
    caught = np.asarray(extra.pop(CAUGHT_MS, []), dtype=np.float64) / 1000
    spread = extra.pop(DROP_SPREAD_MS, [])
    clients = extra.get("clients", 0)
    return outcome, {
        "offered_messages_per_second": args.rate,
        "drop_at": drop_at,
        "drop_spread_ms": round(max(spread, default=0.0), 1),
        "hello_seconds": _seconds(hello),
        "resume_seconds_p50": _seconds(caught)["p50"],
        "resume_seconds_p99": _seconds(caught)["p99"],
        "resume_seconds_max": _seconds(caught)["max"] if caught.size == clients else None,
        "report_keys": [
            "clients",
            "reconnected",
            "caught_up",
            "reconnect_failures",
            "catch_up_events",
            "drop_spread_ms",
            "hello_seconds",
            "resume_seconds_p50",
            "resume_seconds_p99",
            "resume_seconds_max",
        ],
    }


def _seconds(values: Any) -> dict[str, float | None]:
    if not len(values):
        return {"p50": None, "p99": None, "max": None}
    p50, p99 = (round(float(p), 3) for p in np.percentile(values, [50, 99]))
    return {"p50": p50, "p99": p99, "max": round(float(np.max(values)), 3)}


def plan(
    topology: Topology,
    *,
    clients: int,
    per_conversation: int,
    rate: float,
    size: int,
    drop_at: float,
    workers: int,
) -> list[Plan]:
    """Create the conversations (handed to the team, so agents may send); ``rate`` is
    messages per second over all of them."""
    credentials = topology.credentials
    nodes = [node.ws_url for node in topology.started]
    n = len(nodes)
    conversations = math.ceil(clients / per_conversation)

    token, ids = agent_and_conversations(
        topology.started[0].url, credentials, conversations, escalate=True
    )
    built = []
    for c, cid in enumerate(ids):
        members = range(min(per_conversation, clients - c * per_conversation))
        built.append(
            Group(
                cid,
                nodes[c % n],
                tuple(nodes[(c + j) % n] for j in members),
                tuple(nodes[(c + j + 1) % n] for j in members),
                rate / conversations,
                size,
            )
        )
    return [
        Plan(token, drop_at, tuple(built[w::workers])) for w in range(workers) if built[w::workers]
    ]


class Client:
    """One client across its connections: what it received, and when it got back."""

    __slots__ = (
        "attempt",
        "caught_ns",
        "conversation_id",
        "hello_ns",
        "highest",
        "ledger",
        "resume_url",
        "sock",
        "target",
    )

    def __init__(self, conversation_id: str, resume_url: str) -> None:
        self.conversation_id = conversation_id
        self.resume_url = resume_url
        self.ledger = Ledger(0)
        self.highest = 0
        self.sock: Socket | None = None
        #: Numbers the connections; events of an abandoned one are ignored.
        self.attempt = 0
        #: The resume reply's ``last_seq``, once it came.
        self.target: int | None = None
        self.hello_ns = 0
        self.caught_ns = 0


class StormLoad(Load):
    plan: Plan

    def __init__(self, plan: Plan, probe: Probe) -> None:
        super().__init__(plan, probe)
        self.clients: list[Client] = []
        self.publishers: list[Socket] = []
        self.sends = Sends(self.result, (group.conversation_id for group in plan.groups))
        self.reconnecting: set[asyncio.Task[None]] = set()
        self.drop_ns = 0
        self.counts = {
            "clients": 0,
            "reconnected": 0,
            "caught_up": 0,
            "reconnect_failures": 0,
            "catch_up_events": 0,
            "stale_events": 0,
        }

    async def prepare(self) -> None:
        raise_open_files()
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def connect(group: Group, url: str, resume_url: str) -> Client:
            client = Client(group.conversation_id, resume_url)
            async with semaphore:
                client.sock = await Socket.open(
                    url, self.plan.token, on_event=partial(self._on_event, client, 0)
                )
                reply = await client.sock.request(
                    "subscribe", conversation_id=group.conversation_id
                )
            client.ledger.start = client.highest = reply["last_seq"]
            return client

        for group in self.plan.groups:
            self.publishers.append(await Socket.open(group.publisher_url, self.plan.token))
        self.clients = list(
            await asyncio.gather(
                *(
                    connect(group, url, resume_url)
                    for group in self.plan.groups
                    for url, resume_url in zip(group.client_urls, group.resume_urls, strict=True)
                )
            )
        )
        self.counts["clients"] = len(self.clients)

    def _on_event(
        self, client: Client, attempt: int, sock: Socket, frame: dict[str, Any], now: int
    ) -> None:
        if attempt != client.attempt:  # a connection given up on that still talks
            self.counts["stale_events"] += 1
            sock.drop()
            return
        seq = frame.get("seq")
        if seq is None:
            return
        self.probe.followed(client.ledger, frame, now)
        client.highest = max(client.highest, seq)
        if attempt and not client.caught_ns:
            self.counts["catch_up_events"] += 1
            if client.target is not None and client.highest >= client.target:
                client.caught_ns = now

    # -- the window -----------------------------------------------------------------------

    async def run(self, start_ns: int, stop_ns: int) -> None:
        self.drop_ns = start_ns + int(self.plan.drop_at * 1e9)
        await asyncio.gather(
            self._storm(stop_ns + int(DRAIN_SECONDS * 1e9)),
            *(
                self.sends.pace(
                    sock,
                    group.conversation_id,
                    rate=group.rate,
                    size=group.size,
                    start_ns=start_ns,
                    stop_ns=stop_ns,
                    phase=random.random(),  # conversations out of phase
                )
                for group, sock in zip(self.plan.groups, self.publishers, strict=True)
            ),
        )

    async def _storm(self, deadline_ns: int) -> None:
        """Drop every client at the drop time, then reconnect them all at once."""
        await asyncio.sleep(max(0.0, (self.drop_ns - time.monotonic_ns()) / 1e9))
        began = time.monotonic_ns()
        for client in self.clients:
            client.attempt = 1  # from now on, only the new connection counts
            if client.sock is not None:
                client.sock.drop()
        self.result.extra[DROP_SPREAD_MS] = [(time.monotonic_ns() - began) / 1e6]
        for index, client in enumerate(self.clients, 1):
            task = asyncio.create_task(self._reconnect(client, deadline_ns))
            self.reconnecting.add(task)
            task.add_done_callback(self.reconnecting.discard)
            if index % RECONNECT_BATCH == 0:
                # Let these start (and the publishers' timers fire) before the next batch:
                # the same burst, but not one loop iteration seconds long.
                await asyncio.sleep(0)

    async def _reconnect(self, client: Client, deadline_ns: int) -> None:
        cid = client.conversation_id
        failures = 0
        while True:
            try:
                sock = await Socket.open(
                    client.resume_url,
                    self.plan.token,
                    resume={cid: client.highest},
                    on_event=partial(self._on_event, client, client.attempt),
                    within=RECONNECT_WITHIN,
                )
                resumed = sock.hello.get("resume", {}).get(cid, {})
                if not resumed.get("ok"):
                    sock.drop()
                    raise RequestError(resumed.get("error") or {"code": "no_resume"})
            except Exception as error:
                client.attempt += 1  # whatever that connection still sends is ignored
                failures += 1
                self.counts["reconnect_failures"] += 1
                self.result.error(
                    error.code if isinstance(error, RequestError) else type(error).__name__
                )
                delay = min(BACKOFF[1], BACKOFF[0] * 2 ** (failures - 1))
                if time.monotonic_ns() + delay * 1e9 > deadline_ns:
                    return
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                continue
            client.hello_ns = time.monotonic_ns()
            client.sock = sock
            client.target = int(resumed["last_seq"])
            self.counts["reconnected"] += 1
            if client.highest >= client.target and not client.caught_ns:
                # Everything came with (or before) the reply.
                client.caught_ns = client.hello_ns
            return

    # -- after ----------------------------------------------------------------------------

    async def drain(self, deadline_ns: int) -> None:
        await self.sends.settle(self.plan.groups[0].publisher_url, self.plan.token, deadline_ns)
        final = self.sends.final
        while time.monotonic_ns() < deadline_ns:
            if not self.reconnecting and all(
                c.highest >= final[c.conversation_id] for c in self.clients
            ):
                return
            await asyncio.sleep(0.05)

    async def finish(self) -> Any:
        for task in self.reconnecting:
            task.cancel()
        await asyncio.gather(*self.reconnecting, return_exceptions=True)
        checks = Checks()
        hello_ms: list[float] = []
        caught_ms: list[float] = []
        for client in self.clients:
            checks = checks + client.ledger.check(self.sends.final[client.conversation_id])
            if client.hello_ns:
                hello_ms.append(round((client.hello_ns - self.drop_ns) / 1e6, 2))
            if client.caught_ns:
                caught_ms.append(round((client.caught_ns - self.drop_ns) / 1e6, 2))
        self.result.checks = checks
        self.counts["caught_up"] = len(caught_ms)
        self.result.extra.update(self.counts)
        self.result.extra[HELLO_MS] = hello_ms
        self.result.extra[CAUGHT_MS] = caught_ms
        self.result.extra.setdefault(DROP_SPREAD_MS, [])
        sockets = [*self.publishers, *(c.sock for c in self.clients if c.sock is not None)]
        await asyncio.gather(*(s.aclose() for s in sockets), return_exceptions=True)
        return self.result
