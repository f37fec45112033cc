"""``ingest``: REST sends at a paced rate (open loop), ``POST /v1/conversations/{id}/messages``
with the org's API key (as an agent, so the conversations are escalated first).

Each worker sends to its share of ``--conversations`` round-robin, one request every 1/rate s
whatever the replies, with at most ``--concurrency`` in flight. A send that must wait for a free
slot counts as late and as ``waited_for_slot`` (its lateness is then the gateway's, not the
client's); a send still waiting when the window ends is not made and counts as ``unsent``.

A delivery here is an ack: deliveries/s are sends answered 2xx per second, and the latency is
send to response. Every 2xx must carry a ``seq`` no other ack of its conversation had; one agent
socket per conversation, subscribed before the load, must then receive every stored event up to
the highest acked seq.

Conversation c is sent to on node c mod N and watched from node c + 1 mod N. Against the
bare POST baseline (``--server post``) nothing is watched: it has no sockets, and only the
acks' seqs are checked (``watched`` is false in the summary).

The HTTP client is aiohttp with keep-alive (no cookie jar, no automatic headers): measured
against a gateway on this machine it spent about 200 us of CPU per request, against
1,300 us for httpx2, so one core offers 5k sends/s with aiohttp and under 1k with httpx2.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np
import orjson

from bench.client import Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe, stamp
from bench.nodes import Topology
from bench.report import percentiles
from bench.runner import Outcome, run
from bench.sockets import connect

__all__ = ["IngestLoad", "Target", "execute", "plan"]

NAME = "ingest"
#: Gateway processes started unless --nodes says otherwise (one process is measured).
NODES = 1
HELP = "paced REST sends: sends/s and ack latency"
#: What it can load (``--server``).
SERVERS = ("chatgate", "post")

#: Seconds one request may take before it counts as failed.
REQUEST_TIMEOUT = 30.0
#: The target the issue sets: sends per second per gateway process, ack p99 in ms.
TARGET_RATE = 6000
TARGET_P99_MS = 20.0


@dataclass(frozen=True, slots=True)
class Target:
    conversation_id: str
    #: REST base URL its sends go to.
    url: str
    #: WebSocket URL its subscriber connects to (None: the server has no sockets to watch).
    watcher_url: str | None


@dataclass(frozen=True, slots=True)
class Plan:
    api_key: str
    token: str
    targets: tuple[Target, ...]
    #: This worker's sends per second.
    rate: float
    size: int
    concurrency: int


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=2000, help="REST sends per second")
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument(
        "--concurrency", type=int, default=256, help="most requests in flight per worker"
    )
    parser.add_argument("--size", type=int, default=100, help="message length")


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    plans = plan(
        topology,
        conversations=args.conversations,
        rate=args.rate,
        size=args.size,
        concurrency=args.concurrency,
        workers=args.workers,
    )
    outcome = run(
        IngestLoad, plans, topology, duration=args.duration, label=NAME, progress=not args.quiet
    )
    figures = _figures(args, outcome, max(len(topology.started), 1))
    figures["watched"] = all(node.ws_path for node in topology.started)
    return outcome, figures


def plan(
    topology: Topology,
    *,
    conversations: int,
    rate: float,
    size: int,
    concurrency: int,
    workers: int,
) -> list[Plan]:
    """Create the conversations (escalated, so an API key may speak as an agent)."""
    credentials = topology.credentials
    nodes = topology.started

    token, ids = topology.conversations(conversations, escalate=True)
    watched = [node.ws_url if node.ws_path else None for node in nodes]
    built = [
        Target(cid, nodes[c % len(nodes)].url, watched[(c + 1) % len(nodes)])
        for c, cid in enumerate(ids)
    ]
    plans = []
    for w in range(workers):
        share = tuple(built[w::workers])
        if share:
            worker_rate = rate * len(share) / len(built)
            plans.append(Plan(credentials["api_key"], token, share, worker_rate, size, concurrency))
    return plans


def _figures(args: argparse.Namespace, outcome: Outcome, nodes: int) -> dict[str, Any]:
    """The coordinator-side figures: the target, judged on acks within the window."""
    result = outcome.result
    receipts = np.asarray(result.receipts)
    in_window = (receipts >= 0) & (receipts < outcome.duration * 1000)
    rate = float(in_window.sum()) / outcome.duration / nodes
    p99 = percentiles(np.asarray(result.latencies)[in_window])["p99"]
    met = rate >= TARGET_RATE and p99 <= TARGET_P99_MS
    target = (
        f"{rate:,.0f} sends/s per process with ack p99 {p99} ms "
        f"(>= {TARGET_RATE:,}/s and <= {TARGET_P99_MS:g} ms: {'met' if met else 'MISSED'})"
    )
    return {
        "offered_sends_per_second": args.rate,
        "http_client": f"aiohttp {aiohttp.__version__}",
        "unsent": result.extra.get("unsent", 0),
        "waited_for_slot": result.extra.get("waited_for_slot", 0),
        "duplicate_ack_seqs": result.extra.get("duplicate_ack_seqs", 0),
        "target": target,
        "report_keys": [
            "offered_sends_per_second",
            "unsent",
            "waited_for_slot",
            "duplicate_ack_seqs",
            "target",
        ],
    }


class IngestLoad(Load):
    plan: Plan

    def __init__(self, plan: Plan, probe: Probe) -> None:
        super().__init__(plan, probe)
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.watchers: dict[str, Socket] = {}
        self.ledgers: dict[str, Ledger] = {}
        self.acked: dict[str, set[int]] = {}
        self.final: dict[str, int] = {}
        self.duplicates = 0
        self.pending: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(plan.concurrency)

    async def prepare(self) -> None:
        plan = self.plan
        for url in {target.url for target in plan.targets}:
            self.sessions[url] = aiohttp.ClientSession(
                url,
                connector=aiohttp.TCPConnector(limit=plan.concurrency),
                headers={
                    "Authorization": f"Bearer {plan.api_key}",
                    "Content-Type": "application/json",
                },
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            )

        for target in plan.targets:
            self.acked[target.conversation_id] = set()
            self.final[target.conversation_id] = 0

        async def watch(target: Target) -> None:
            assert target.watcher_url is not None
            sock = await connect(target.watcher_url, plan.token, on_event=self._on_event)
            reply = await sock.request("subscribe", conversation_id=target.conversation_id)
            self.watchers[target.conversation_id] = sock
            self.ledgers[target.conversation_id] = Ledger(reply["last_seq"])

        await asyncio.gather(*(watch(t) for t in plan.targets if t.watcher_url is not None))
        await asyncio.gather(*(self._warm(session) for session in self.sessions.values()))

    async def _warm(self, session: aiohttp.ClientSession) -> None:
        """Open the keep-alive connections before the window (a connect is not an ack)."""

        async def one() -> None:
            async with session.get("/healthz") as response:
                await response.read()

        await asyncio.gather(*(one() for _ in range(min(self.plan.concurrency, 64))))

    def _on_event(self, sock: Socket, frame: dict[str, Any], now: int) -> None:
        seq = frame.get("seq")
        if seq is not None:
            self.ledgers[frame["conversation_id"]].seqs.append(seq)

    async def run(self, start_ns: int, stop_ns: int) -> None:
        plan = self.plan
        targets = plan.targets
        interval = 1e9 / plan.rate
        first = start_ns + random.randrange(int(interval) + 1)  # workers out of phase
        result = self.result
        index = waited = 0
        while (due := first + int(index * interval)) < stop_ns:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
            if self.slots.locked():  # --concurrency requests in flight: wait, not past the window
                waited += 1
                try:
                    async with asyncio.timeout(max(0.0, (stop_ns - time.monotonic_ns()) / 1e9)):
                        await self.slots.acquire()
                except TimeoutError:
                    break
            else:
                await self.slots.acquire()
            now = time.monotonic_ns()
            result.lag.append(max(0, now - due) // 1000)
            task = asyncio.create_task(self._send(targets[index % len(targets)], now))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
            result.sent += 1
            index += 1
        # Sends due in the window that never left (every slot was taken until its end).
        result.extra["unsent"] = max(0, math.ceil((stop_ns - first) / interval) - index)
        result.extra["waited_for_slot"] = waited

    async def _send(self, target: Target, sent_ns: int) -> None:
        body = orjson.dumps({"content": stamp(self.plan.size, sent_ns), "role": "agent"})
        try:
            async with self.sessions[target.url].post(
                f"/v1/conversations/{target.conversation_id}/messages", data=body
            ) as response:
                status = response.status
                data = await response.read()
        except Exception as exc:  # a failed request is counted, by its kind
            self.result.error(type(exc).__name__)
            return
        finally:
            self.slots.release()
        now = time.monotonic_ns()
        if not 200 <= status < 300:
            self.result.error(str(status))
            return
        self.result.acked += 1
        self.probe.delivered(sent_ns, now)
        seq = orjson.loads(data)["seq"]
        cid = target.conversation_id
        if seq in self.acked[cid]:
            self.duplicates += 1
        self.acked[cid].add(seq)
        if seq > self.final[cid]:
            self.final[cid] = seq

    async def drain(self, deadline_ns: int) -> None:
        while time.monotonic_ns() < deadline_ns:
            if not self.pending and all(
                self.ledgers[cid].last >= self.final[cid] for cid in self.ledgers
            ):
                return
            await asyncio.sleep(0.05)

    async def finish(self) -> Any:
        checks = Checks(duplicated=self.duplicates)  # an ack's seq given twice
        for cid, ledger in self.ledgers.items():
            checks = checks + ledger.check(self.final[cid])
        self.result.checks = checks
        self.result.extra["duplicate_ack_seqs"] = self.duplicates
        if self.pending:  # still unanswered at the drain deadline
            self.result.errors["unanswered"] = len(self.pending)
        for task in self.pending:
            task.cancel()
        await asyncio.gather(*(s.close() for s in self.sessions.values()))
        await asyncio.gather(*(s.aclose() for s in self.watchers.values()), return_exceptions=True)
        return self.result
