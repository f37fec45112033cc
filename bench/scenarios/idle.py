"""``idle``: N sockets that say hello, subscribe and then sit idle; what each costs the gateway.

Socket i connects from loopback address 127.0.0.(1 + i // --per-address) (Linux accepts any
127.x address and gives each its own ephemeral ports, so N may pass one address's ~28k ports)
to node i mod N, as an agent, and subscribes to its conversation (one per
``--per-conversation`` consecutive sockets).

- **RSS per connection**: the gateways' RSS at the start of the window (everyone connected and
  subscribed) less their RSS before any socket connected, over the sockets connected.
- **Keepalive CPU**: the window (``--duration``) is the idle hold; the gateways' CPU time in it
  over sockets and seconds. The server pings every ``CHATGATE_WS_PING_INTERVAL`` s (20 by
  default; ``--set CHATGATE_WS_PING_INTERVAL=5`` for more pings per window); picows answers.
  Each socket's pings keep the phase of its connect: when connecting took less than a ping
  interval, hold for a whole number of intervals, or the window catches a partial round.
- **Connect CPU**: the gateways' CPU time from before the first connect to the window's start
  (hello, subscribe) over the sockets connected.
- **Correctness**: after the hold, one message per conversation (one publisher socket per worker,
  an API key speaking as the bot); every idle socket must get it exactly once, which also proves
  it stayed open. Sockets the server closed during the hold are counted.

A process may open ``ulimit -Hn`` files at most: a worker holds fewer sockets than that (raise
``--workers`` for more), and a gateway that runs out of descriptors refuses the rest; the run
then reports the failures and stops connecting after a few hundred of them per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import resource
import time
from dataclasses import dataclass
from typing import Any

import psutil

from bench.client import Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe, stamp
from bench.nodes import Topology, Usage, raise_open_files
from bench.runner import Outcome, run
from bench.sends import Sends
from bench.sockets import connect

__all__ = ["Group", "IdleLoad", "execute", "plan", "source_address"]

NAME = "idle"
#: Gateway processes started unless --nodes says otherwise (one process is measured).
NODES = 1
HELP = "N idle sockets: RSS per connection, keepalive CPU"
#: What it can load (``--server``).
SERVERS = ("chatgate", "relay", "socketio")

#: Sockets one worker opens at once while preparing.
CONNECT_CONCURRENCY = 64
#: Seconds one socket gets to connect, say hello and subscribe.
CONNECT_WITHIN = 10.0
#: A worker stops connecting after this many failures (a gateway out of file descriptors).
GIVE_UP_AFTER = 256
#: File descriptors a worker keeps for itself besides its idle sockets.
FD_RESERVE = 1000
#: Seconds after the window before the final messages go (keeps them out of its CPU figure).
SETTLE_SECONDS = 0.5
#: The targets the issue sets.
TARGET_RSS_KB = 12.0
TARGET_CONNECTIONS = 50_000


@dataclass(frozen=True, slots=True)
class Group:
    """The idle sockets that follow one conversation: global socket indexes ``first`` to
    ``first + count - 1`` (which give their node and source address)."""

    conversation_id: str
    first: int
    count: int


@dataclass(frozen=True, slots=True)
class Plan:
    token: str
    #: The publisher's credential: an API key, which may speak as the bot in ``bot_active``.
    api_key: str
    nodes: tuple[str, ...]
    per_address: int
    groups: tuple[Group, ...]
    size: int


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, default=2000, help="idle sockets")
    parser.add_argument(
        "--per-conversation", type=int, default=50, help="idle sockets following one conversation"
    )
    parser.add_argument(
        "--per-address",
        type=int,
        default=20000,
        help="sockets per loopback source address (127.0.0.1, 127.0.0.2, ...)",
    )
    parser.add_argument("--size", type=int, default=100, help="length of the final messages")


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    _check_limits(
        _layout(args.connections, args.per_conversation, args.workers),
        args.per_address,
        args.workers,
    )
    plans = plan(
        topology,
        connections=args.connections,
        per_conversation=args.per_conversation,
        per_address=args.per_address,
        size=args.size,
        workers=args.workers,
    )
    servers = topology.processes
    baseline = Usage.of(servers)  # before any socket connects
    outcome = run(
        IdleLoad, plans, topology, duration=args.duration, label=NAME, progress=not args.quiet
    )
    return outcome, _figures(args, topology, servers, baseline, outcome)


def plan(
    topology: Topology,
    *,
    connections: int,
    per_conversation: int,
    per_address: int,
    size: int,
    workers: int,
) -> list[Plan]:
    """Create one conversation per ``per_conversation`` sockets, dealt round-robin to the
    workers (so a worker's sockets are consecutive indexes, whatever its groups)."""
    layout = _layout(connections, per_conversation, workers)
    credentials = topology.credentials
    nodes = tuple(node.ws_url for node in topology.started)
    total = sum(len(sizes) for sizes in layout)

    token, ids = topology.conversations(total, escalate=False)
    plans, first, next_id = [], 0, iter(ids)
    for sizes in layout:
        groups = []
        for count in sizes:
            groups.append(Group(next(next_id), first, count))
            first += count
        plans.append(Plan(token, credentials["api_key"], nodes, per_address, tuple(groups), size))
    return plans


def source_address(index: int) -> str:
    """Loopback source address ``index``: 0 is 127.0.0.1, 1 is 127.0.0.2, ..."""
    return str(ipaddress.IPv4Address("127.0.0.1") + index)


def _layout(connections: int, per_conversation: int, workers: int) -> list[list[int]]:
    """Each worker's group sizes: groups of ``per_conversation`` sockets dealt round-robin."""
    if connections < 1 or per_conversation < 1 or workers < 1:
        raise SystemExit("idle: --connections, --per-conversation and --workers must be >= 1")
    sizes = [per_conversation] * (connections // per_conversation)
    if connections % per_conversation:
        sizes.append(connections % per_conversation)
    return [sizes[w::workers] for w in range(workers) if sizes[w::workers]]


def _check_limits(layout: list[list[int]], per_address: int, workers: int) -> None:
    """Fail before creating anything when a worker could not hold its sockets."""
    connections = sum(sum(sizes) for sizes in layout)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        most = max(sum(sizes) for sizes in layout)
        allowed = hard - FD_RESERVE
        if most > allowed:
            needed = math.ceil(connections / allowed)
            raise SystemExit(
                f"idle: a worker would hold {most:,} sockets, but a process may open at most "
                f"{hard:,} files here (ulimit -Hn; {allowed:,} sockets per worker); "
                f"raise --workers to {needed} or more (--workers is {workers})"
            )
    ports = _ephemeral_ports()
    if ports is not None and per_address > ports:
        raise SystemExit(
            f"idle: --per-address {per_address:,} is more than the {ports:,} ephemeral ports "
            "of one source address (net.ipv4.ip_local_port_range)"
        )


def _ephemeral_ports() -> int | None:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as file:
            low, high = (int(part) for part in file.read().split())
    except (OSError, ValueError):
        return None
    return high - low + 1


def _figures(
    args: argparse.Namespace,
    topology: Topology,
    servers: list[psutil.Process],
    baseline: Usage,
    outcome: Outcome,
) -> dict[str, Any]:
    """The coordinator-side figures (worker extras are summed; these must not be)."""
    extra = outcome.result.extra
    connected: int = extra.get("connected", 0)
    failures: int = extra.get("connect_failures", 0)
    skipped: int = extra.get("connect_skipped", 0)
    connect_seconds = max(extra.pop("connect_seconds_by_worker", [0.0]))
    rss_kb = cpu_us = connect_us = None
    if servers and connected:
        # Hello and subscribe, from the baseline to the window's start.
        connect_us = round((outcome.server_before.cpu - baseline.cpu) * 1e6 / connected, 1)
        rss_kb = round((outcome.server_before.rss - baseline.rss) / connected / 1024, 2)
        cpu = outcome.server_after.cpu - outcome.server_before.cpu
        cpu_us = round(cpu * 1e6 / connected / outcome.duration, 3)
    ping = topology.env.get("CHATGATE_WS_PING_INTERVAL", "20") if not topology.urls else None
    figures: dict[str, Any] = {
        "connections": connected,
        "connect_seconds": round(connect_seconds, 2),
        "connect_failures": failures,
        "connect_skipped": skipped,
        "closed_during_hold": extra.get("closed_during_hold", 0),
        "connect_cpu_us_per_connection": connect_us,
        "rss_per_connection_kb": rss_kb,
        "keepalive_cpu_us_per_connection_second": cpu_us,
        "baseline_rss_mb": round(baseline.rss / 2**20, 1),
        "connected_rss_mb": round(outcome.server_before.rss / 2**20, 1),
        "ping_interval_seconds": float(ping) if ping else None,
        "keepalive_note": _keepalive_note(args.duration, connect_seconds, ping),
        "targets": _targets(args.connections, connected, rss_kb, len(topology.started)),
    }
    keys = [
        "connections",
        "connect_seconds",
        "connect_failures",
        "connect_cpu_us_per_connection",
        "closed_during_hold",
        "rss_per_connection_kb",
        "keepalive_cpu_us_per_connection_second",
        "ping_interval_seconds",
        "keepalive_note",
        "targets",
    ]
    if failures or skipped:
        figures["connect_limit"] = _why_refused(servers, args.connections, connected)
        keys.insert(keys.index("connect_failures") + 1, "connect_limit")
    figures["report_keys"] = keys
    return figures


def _keepalive_note(duration: float, connect_seconds: float, ping: str | None) -> str:
    """Whether the window's CPU stands for the steady keepalive cost."""
    if not ping or float(ping) == 0:
        return "no server pings (CHATGATE_WS_PING_INTERVAL=0 or unknown)"
    interval = float(ping)
    if connect_seconds >= interval:
        return f"steady: the connects took longer than a ping interval ({interval:g} s)"
    return (
        f"pings come in rounds (the connects took {connect_seconds:.1f} s, less than the "
        f"{interval:g} s interval): the {duration:g} s hold spans {duration / interval:.2f} "
        "intervals; hold a whole number of them for a steady figure"
    )


def _targets(wanted: int, connected: int, rss_kb: float | None, nodes: int) -> str:
    rss = (
        "RSS unknown (gateways not started here)"
        if rss_kb is None
        else f"{rss_kb} KB RSS per connection "
        + ("(<= 12 KB: met)" if rss_kb <= TARGET_RSS_KB else "(> 12 KB: MISSED)")
    )
    per_process = connected / max(nodes, 1)
    if per_process >= TARGET_CONNECTIONS:
        held = f"{per_process:,.0f} connections per process (>= 50k: met)"
    elif wanted >= TARGET_CONNECTIONS * max(nodes, 1):
        held = f"{per_process:,.0f} connections per process (50k: MISSED, see connect_limit)"
    else:
        held = f"50k per process not tried ({wanted:,} asked)"
    return f"{rss}; {held}"


def _why_refused(servers: list[psutil.Process], wanted: int, connected: int) -> str:
    """Explain connection failures: usually the gateway's open-file limit."""
    limits = []
    for process in servers:
        try:
            limits.append(process.rlimit(psutil.RLIMIT_NOFILE)[0])
        except (psutil.Error, AttributeError):
            continue
    text = f"only {connected:,} of {wanted:,} sockets connected"
    # A socket per connection, plus the gateway's own files (database, listener, logs).
    if limits and connected / len(limits) >= min(limits) - FD_RESERVE:
        text += (
            f"; each gateway may open {min(limits):,} files (RLIMIT_NOFILE), so one process "
            "cannot hold more sockets than that: raise the hard limit (ulimit -Hn, "
            "LimitNOFILE=) or add --nodes"
        )
    else:
        text += " (see errors for why)"
    return text


class IdleLoad(Load):
    plan: Plan

    def __init__(self, plan: Plan, probe: Probe) -> None:
        super().__init__(plan, probe)
        self.ledgers: dict[Socket, Ledger] = {}
        self.members: dict[str, list[Socket]] = {}
        self.sends = Sends(self.result, (group.conversation_id for group in plan.groups))
        self.publisher: Socket | None = None
        self.failures = 0

    async def prepare(self) -> None:
        raise_open_files()
        plan = self.plan
        self.publisher = await connect(plan.nodes[0], plan.api_key)
        jobs = iter([(group, group.first + k) for group in plan.groups for k in range(group.count)])
        for group in plan.groups:
            self.members[group.conversation_id] = []

        async def connector() -> None:
            for group, index in jobs:
                if self.failures >= GIVE_UP_AFTER:
                    return
                await self._connect(group, index)

        began = time.monotonic()
        await asyncio.gather(*(connector() for _ in range(CONNECT_CONCURRENCY)))
        planned = sum(group.count for group in plan.groups)
        extra = self.result.extra
        extra["connect_seconds_by_worker"] = [time.monotonic() - began]
        extra["connected"] = len(self.ledgers)
        extra["connect_failures"] = self.failures
        extra["connect_skipped"] = planned - len(self.ledgers) - self.failures

    async def _connect(self, group: Group, index: int) -> None:
        plan = self.plan
        url = plan.nodes[index % len(plan.nodes)]
        source = source_address(index // plan.per_address)
        sock: Socket | None = None
        try:
            async with asyncio.timeout(CONNECT_WITHIN):
                sock = await connect(
                    url,
                    plan.token,
                    on_event=self._on_event,
                    source=source,
                    within=CONNECT_WITHIN,
                )
                reply = await sock.request("subscribe", conversation_id=group.conversation_id)
        except Exception as exc:  # any failure to connect is counted, by its kind
            self.failures += 1
            kind = getattr(exc, "code", "") or type(exc).__name__
            self.result.error(f"connect:{kind}")
            if sock is not None:
                sock.drop()
            return
        self.ledgers[sock] = Ledger(reply["last_seq"])
        self.members[group.conversation_id].append(sock)

    def _on_event(self, sock: Socket, frame: dict[str, Any], now: int) -> None:
        self.probe.followed(self.ledgers[sock], frame, now)

    async def run(self, start_ns: int, stop_ns: int) -> None:
        """Hold: nothing to do but stay connected (the server pings; picows answers)."""
        await asyncio.sleep(max(0.0, (stop_ns - time.monotonic_ns()) / 1e9))
        closed = 0
        for sock in self.ledgers:
            if sock.closed.done():
                closed += 1
                self.result.error(f"closed:{sock.close_code}")
        self.result.extra["closed_during_hold"] = closed

    async def drain(self, deadline_ns: int) -> None:
        """One message per conversation, then wait until every idle socket has it."""
        await asyncio.sleep(SETTLE_SECONDS)
        assert self.publisher is not None
        for cid in self.members:
            self.sends.send(self.publisher, cid, stamp(self.plan.size), role="bot")
        await self.sends.settle(self.plan.nodes[0], self.plan.token, deadline_ns)
        final = self.sends.final
        while time.monotonic_ns() < deadline_ns:
            if all(
                self.ledgers[sock].last >= final[cid] or sock.closed.done()
                for cid, socks in self.members.items()
                for sock in socks
            ):
                return
            await asyncio.sleep(0.05)

    async def finish(self) -> Any:
        checks = Checks()
        for cid, socks in self.members.items():
            for sock in socks:
                checks = checks + self.ledgers[sock].check(self.sends.final[cid])
        self.result.checks = checks
        closing = [*self.ledgers, *([self.publisher] if self.publisher else [])]
        try:
            async with asyncio.timeout(30):
                await asyncio.gather(*(s.aclose() for s in closing), return_exceptions=True)
        except TimeoutError:
            for sock in closing:
                sock.drop()
        return self.result
