"""``chat``: visitor/agent pairs in conversations, agent inbox tabs watching the org, sends
mixed between REST and the socket, and a takeover in every conversation.

Pair i is a visitor (a widget session) with a socket on node i mod N and an agent with a
socket on node i+1 mod N; inbox tabs (agent sockets subscribed to the org inbox) are spread
over the nodes too, and the bot has a socket on each node. A pair runs conversations back to
back, each one scripted as a real one goes:

1. the visitor starts it (``POST /v1/conversations`` with the visitor token), and both
   sockets subscribe;
2. visitor, bot, visitor, bot (``bot_active``);
3. the visitor asks for a human (``conversation.update status agent_requested``);
4. the agent answers: the takeover (``conversation.updated``, the system marker, the answer);
5. agent and visitor alternate for ``EXCHANGES`` turns each;
6. the agent resolves it; the visitor starts the next one.

Messages are paced open-loop per pair (``--rate`` messages per second over all pairs); status
changes go right after the message before them and take no slot. Each sender alternates
between ``message.send`` on a socket and ``POST /v1/conversations/{id}/messages`` with its own
token (visitor, agent and bot tokens are all REST credentials), sent to the node its socket is
not on; status changes alternate between ``conversation.update`` and ``PATCH`` from one
conversation to the next. Where the lifecycle needs an order (the agent's first answer must
come after the request for a human and after every bot message; the resolve after
everything), the pair first waits for the replies to its writes: those sends are closed-loop,
start the schedule again from now, and their lag is not recorded. So a slow gateway lowers the
rate actually sent (``sent_messages_per_second``) rather than piling writes up. REST writes go
through aiohttp with keep-alive (httpx2 costs the client several times the CPU per request);
``reply_ms`` gives the reply times of the writes by surface.

Checks. Each socket's subscription to each conversation gets a ``Ledger`` from its subscribe
reply's ``last_seq`` to the conversation's final ``last_seq`` (the highest seq in the replies
to its writes, which all come from this worker; read back with the API key where a write
failed): every message and ``conversation.updated`` exactly once, in order. A write the
gateway refused counts as lost: the script follows the lifecycle, so none should be.

The inbox. Conversations start during the run, after every tab has subscribed, and no tab
follows a conversation directly (the inbox skips those), so each tab must get, for every
conversation, its ``conversation.created`` (seq 0), then each ``conversation.updated`` that
the conversation's own subscribers got (their seqs), exactly once and in increasing seq. A tab
knows that set for the conversations of its own worker: each (tab, conversation) is checked
as one subscription (lost, duplicated, out of order, unexpected). For the other workers'
conversations a tab checks duplicates and order only. ``inbox`` in the summary counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from array import array
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson

from bench.client import ClosedError, RequestError, Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe, stamp
from bench.nodes import Node, Topology
from bench.report import percentiles
from bench.rest import Rest, gather_limited
from bench.runner import Outcome, run

__all__ = ["ChatLoad", "Pair", "execute", "plan"]

NAME = "chat"
HELP = "visitor/agent pairs with takeovers, inbox tabs, REST and socket sends"

#: Sockets one worker opens at once while preparing.
CONNECT_CONCURRENCY = 64
#: Keep-alive connections of a worker to each node for the REST writes.
HTTP_CONNECTIONS = 64
#: Seconds a REST write may take.
REQUEST_TIMEOUT = 30.0
#: Bot answers before the visitor asks for a human.
BOT_ANSWERS = 2
#: Agent and visitor turns after the takeover.
EXCHANGES = 4

VISITOR, AGENT, BOT = "visitor", "agent", "bot"
#: Reply times of the writes (lists in ``extra``, joined over workers), by surface.
SOCKET_ACKS, REST_ACKS = "chat_ack_us_socket", "chat_ack_us_rest"


@dataclass(frozen=True, slots=True)
class Step:
    """Who does what: ``message``, or a status to set. ``settle``: first wait for the
    replies to every earlier write of the conversation (the lifecycle needs them stored)."""

    actor: str
    action: str
    settle: bool = False


#: One conversation after its start.
SCRIPT: tuple[Step, ...] = (
    *(Step(VISITOR, "message"), Step(BOT, "message")) * BOT_ANSWERS,
    Step(VISITOR, "agent_requested"),
    Step(AGENT, "message", settle=True),  # the takeover
    Step(VISITOR, "message"),
    *(Step(AGENT, "message"), Step(VISITOR, "message")) * (EXCHANGES - 1),
    Step(AGENT, "resolved", settle=True),
)


@dataclass(frozen=True, slots=True)
class Pair:
    visitor_token: str
    visitor_node: int
    agent_node: int
    rate: float
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    api_key: str
    agent_token: str
    bot_token: str
    nodes: tuple[Node, ...]
    #: The node of each inbox tab of this worker.
    inbox_nodes: tuple[int, ...]
    pairs: tuple[Pair, ...]


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, default=100, help="visitor/agent pairs")
    parser.add_argument("--inboxes", type=int, default=5, help="agent tabs on the org inbox")
    parser.add_argument("--rate", type=float, default=500, help="messages per second")
    parser.add_argument("--size", type=int, default=100, help="message length")


def execute(args: argparse.Namespace, topology: Topology) -> tuple[Outcome, dict[str, Any]]:
    plans = plan(
        topology,
        pairs=args.pairs,
        inboxes=args.inboxes,
        rate=args.rate,
        size=args.size,
        workers=args.workers,
    )
    outcome = run(
        ChatLoad, plans, topology, duration=args.duration, label=NAME, progress=not args.quiet
    )
    extra = outcome.result.extra
    counts = {key: extra.pop(key, 0) for key in COUNTS}
    inbox = {key.removeprefix("inbox_"): extra.pop(key, 0) for key in INBOX_COUNTS}
    acks = {
        "socket": percentiles(extra.pop(SOCKET_ACKS, [])),
        "rest": percentiles(extra.pop(REST_ACKS, [])),
    }
    return outcome, {
        "offered_messages_per_second": args.rate,
        "sent_messages_per_second": round(outcome.result.sent / args.duration),
        "conversations": {
            "started": counts["conversations"],
            "takeovers": counts["takeovers"],
            "resolved": counts["resolved"],
        },
        "writes": {
            "socket": counts["socket_writes"],
            "rest": counts["rest_writes"],
            "status_changes": counts["status_changes"],
            "refused": counts["refused"],
            "stray_events": counts["stray_events"],
        },
        "inbox": inbox,
        "reply_ms": acks,
        "report_keys": ["conversations", "writes", "reply_ms", "inbox"],
    }


#: Per-worker counts (in ``extra``, summed over workers), regrouped by ``execute``.
COUNTS = (
    "conversations",
    "takeovers",
    "resolved",
    "socket_writes",
    "rest_writes",
    "status_changes",
    "refused",
    "stray_events",
)
INBOX_COUNTS = (
    "inbox_tabs",
    "inbox_events",
    "inbox_checked",
    "inbox_expected",
    "inbox_foreign",
    "inbox_lost",
    "inbox_duplicated",
    "inbox_out_of_order",
    "inbox_unexpected",
)


def plan(
    topology: Topology, *, pairs: int, inboxes: int, rate: float, size: int, workers: int
) -> list[Plan]:
    """Open the visitors' sessions; ``rate`` is messages per second over all pairs."""
    credentials = topology.credentials
    nodes = tuple(topology.started)

    async def setup() -> tuple[str, str, list[str]]:
        async with Rest(nodes[0].url, credentials["api_key"]) as rest:
            agent = await rest.agent_token(credentials["agent_id"])
            bot = await rest.bot_token()
            visitors = await gather_limited(
                [lambda: rest.visitor(credentials["widget_id"]) for _ in range(pairs)]
            )
            return agent, bot, [str(v["token"]) for v in visitors]

    agent, bot, tokens = asyncio.run(setup())
    n = len(nodes)
    built = [Pair(token, i % n, (i + 1) % n, rate / pairs, size) for i, token in enumerate(tokens)]
    return [
        Plan(
            credentials["api_key"],
            agent,
            bot,
            nodes,
            tuple(tab % n for tab in range(w, inboxes, workers)),
            tuple(built[w::workers]),
        )
        for w in range(workers)
        if built[w::workers]
    ]


class PairState:
    """A pair's sockets, its writes in flight, and whose turn uses which surface."""

    __slots__ = ("agent", "pair", "pending", "turns", "visitor")

    def __init__(self, pair: Pair, visitor: Socket, agent: Socket) -> None:
        self.pair = pair
        self.visitor = visitor
        self.agent = agent
        self.pending: set[asyncio.Future[Any]] = set()
        self.turns = dict.fromkeys((VISITOR, AGENT, BOT), 0)


class ChatLoad(Load):
    plan: Plan

    def __init__(self, plan: Plan, probe: Probe) -> None:
        super().__init__(plan, probe)
        #: Per node: the REST writes (each with its sender's token).
        self.http: list[aiohttp.ClientSession] = []
        self.pairs: list[PairState] = []
        self.bots: list[Socket] = []
        self.tabs: list[Socket] = []
        #: Per tab: the seqs it got, per conversation, in arrival order.
        self.inbox: list[dict[str, array[int]]] = []
        #: (side, conversation) -> what that side's subscription got.
        self.ledgers: dict[tuple[str, str], Ledger] = {}
        self.final: dict[str, int] = {}
        #: The seqs of the ``conversation.updated`` events the pair sockets got.
        self.updated: dict[str, set[int]] = {}
        #: Conversations a write to failed (their final seq is read back).
        self.failed: set[str] = set()
        self.counts = dict.fromkeys(COUNTS, 0)
        #: Microseconds from each write to its reply, by surface.
        self.acks: dict[str, list[int]] = {SOCKET_ACKS: [], REST_ACKS: []}

    # -- preparing ------------------------------------------------------------------------

    async def prepare(self) -> None:
        plan = self.plan
        self.http = [
            aiohttp.ClientSession(
                node.url,
                connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            )
            for node in plan.nodes
        ]
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self.inbox = [{} for _ in plan.inbox_nodes]

        async def tab(seen: dict[str, array[int]], node: int) -> Socket:
            async with semaphore:
                sock = await Socket.open(
                    plan.nodes[node].ws_url,
                    plan.agent_token,
                    on_event=partial(self._on_inbox, seen),
                )
                await sock.request("subscribe", inbox=True)
                return sock

        async def pair(p: Pair) -> PairState:
            async with semaphore:
                visitor = await Socket.open(
                    plan.nodes[p.visitor_node].ws_url,
                    p.visitor_token,
                    on_event=partial(self._on_event, VISITOR),
                )
                agent = await Socket.open(
                    plan.nodes[p.agent_node].ws_url,
                    plan.agent_token,
                    on_event=partial(self._on_event, AGENT),
                )
                return PairState(p, visitor, agent)

        self.tabs = list(
            await asyncio.gather(
                *(tab(s, n) for s, n in zip(self.inbox, plan.inbox_nodes, strict=True))
            )
        )
        self.bots = [await Socket.open(node.ws_url, plan.bot_token) for node in plan.nodes]
        self.pairs = list(await asyncio.gather(*(pair(p) for p in plan.pairs)))

    # -- receiving ------------------------------------------------------------------------

    def _on_event(self, side: str, sock: Socket, frame: dict[str, Any], now: int) -> None:
        seq = frame.get("seq")
        if seq is None:
            return
        cid = frame["conversation_id"]
        ledger = self.ledgers.get((side, cid))
        if ledger is None:
            self.counts["stray_events"] += 1
            return
        self.probe.followed(ledger, frame, now)
        if frame["event"] == "conversation.updated":
            self.updated[cid].add(seq)
            if side == VISITOR:
                changes = frame["data"].get("changes", {})
                if "handler" in changes:
                    self.counts["takeovers"] += 1
                if changes.get("status", [None, None])[1] == "resolved":
                    self.counts["resolved"] += 1

    def _on_inbox(
        self, seen: dict[str, array[int]], sock: Socket, frame: dict[str, Any], now: int
    ) -> None:
        seq = frame.get("seq")
        if seq is not None:
            seen.setdefault(frame["conversation_id"], array("l")).append(seq)

    # -- writing --------------------------------------------------------------------------

    async def run(self, start_ns: int, stop_ns: int) -> None:
        await asyncio.gather(*(self._converse(state, start_ns, stop_ns) for state in self.pairs))

    async def _converse(self, state: PairState, start_ns: int, stop_ns: int) -> None:
        interval = int(1e9 / state.pair.rate)
        due = start_ns + random.randrange(interval)  # pairs out of phase
        result = self.result
        number = 0
        while due < stop_ns:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
            cid = await self._start(state)
            if cid is None:
                return
            resync = True
            for step in SCRIPT:
                if step.settle:
                    await self._settle(state)
                    resync = True
                if step.action != "message":
                    self._set_status(state, cid, step, via_socket=number % 2 == 0)
                    continue
                if due >= stop_ns:
                    break
                now = time.monotonic_ns()
                if due > now:
                    await asyncio.sleep((due - now) / 1e9)
                    now = time.monotonic_ns()
                if resync:  # closed loop just now: go on from here
                    due, resync = max(due, now), False
                else:
                    result.lag.append((now - due) // 1000)
                self._message(state, cid, step.actor, now)
                due += interval
            number += 1

    async def _start(self, state: PairState) -> str | None:
        """The visitor starts a conversation; both sockets subscribe to it."""
        pair = state.pair
        try:
            body = await self._rest(
                pair.agent_node, pair.visitor_token, "POST", "/v1/conversations"
            )
        except RequestError as error:
            self._refused(error)
            return None
        cid = str(body["id"])
        self.counts["conversations"] += 1
        self.final[cid] = int(body["last_seq"])
        self.updated[cid] = set()
        for side, sock in ((VISITOR, state.visitor), (AGENT, state.agent)):
            ledger = self.ledgers[(side, cid)] = Ledger(0)
            try:
                reply = await sock.request("subscribe", conversation_id=cid)
            except Exception as error:
                self._refused(error)
                del self.ledgers[(side, cid)]
                continue
            ledger.start = reply["last_seq"]
        return cid

    def _message(self, state: PairState, cid: str, actor: str, now: int) -> None:
        pair = state.pair
        content = stamp(pair.size, now)
        self.result.sent += 1
        if self._via_socket(state, actor):
            sock = self.bots[pair.visitor_node]
            if actor == VISITOR:
                sock = state.visitor
            elif actor == AGENT:
                sock = state.agent
            future = _send(sock, "message.send", conversation_id=cid, content=content)
            self._track(state, cid, "seq", future, SOCKET_ACKS)
        else:
            node, token = self._rest_as(state, actor)
            path = f"/v1/conversations/{cid}/messages"
            future = asyncio.ensure_future(self._rest(node, token, "POST", path, content=content))
            self._track(state, cid, "seq", future, REST_ACKS)

    def _set_status(self, state: PairState, cid: str, step: Step, *, via_socket: bool) -> None:
        self.counts["status_changes"] += 1
        if via_socket:
            self.counts["socket_writes"] += 1
            sock = state.visitor if step.actor == VISITOR else state.agent
            future = _send(sock, "conversation.update", conversation_id=cid, status=step.action)
            self._track(state, cid, "last_seq", future, SOCKET_ACKS)
        else:
            self.counts["rest_writes"] += 1
            node, token = self._rest_as(state, step.actor)
            path = f"/v1/conversations/{cid}"
            future = asyncio.ensure_future(
                self._rest(node, token, "PATCH", path, status=step.action)
            )
            self._track(state, cid, "last_seq", future, REST_ACKS)

    def _via_socket(self, state: PairState, actor: str) -> bool:
        """Each sender alternates: socket, REST, socket, ..."""
        turn = state.turns[actor]
        state.turns[actor] = turn + 1
        self.counts["socket_writes" if turn % 2 == 0 else "rest_writes"] += 1
        return turn % 2 == 0

    def _rest_as(self, state: PairState, actor: str) -> tuple[int, str]:
        """Where and as whom ``actor`` writes over REST: the node its socket is not on."""
        pair = state.pair
        if actor == VISITOR:
            return pair.agent_node, pair.visitor_token
        if actor == AGENT:
            return pair.visitor_node, self.plan.agent_token
        return pair.agent_node, self.plan.bot_token

    async def _rest(self, node: int, token: str, method: str, path: str, **body: Any) -> Any:
        """A REST call as ``token``; a refusal raises ``RequestError`` like a socket's."""
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            async with self.http[node].request(
                method, path, data=orjson.dumps(body), headers=headers
            ) as response:
                status = response.status
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RequestError({"code": f"http {type(exc).__name__}", "message": str(exc)}) from exc
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            decoded = None
        if status >= 300:
            error = decoded.get("error") if isinstance(decoded, dict) else None
            code = error.get("code", "?") if isinstance(error, dict) else "?"
            raise RequestError({"code": f"{code} (HTTP {status})"})
        return decoded

    def _track(
        self, state: PairState, cid: str, key: str, future: asyncio.Future[Any], surface: str
    ) -> None:
        state.pending.add(future)
        done = partial(self._done, state, cid, key, surface, time.monotonic_ns())
        future.add_done_callback(done)

    def _done(
        self,
        state: PairState,
        cid: str,
        key: str,
        surface: str,
        sent_ns: int,
        future: asyncio.Future[Any],
    ) -> None:
        state.pending.discard(future)
        self.acks[surface].append((time.monotonic_ns() - sent_ns) // 1000)
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            self._refused(error)
            self.failed.add(cid)
            return
        if key == "seq":
            self.result.acked += 1
        self.final[cid] = max(self.final[cid], int(future.result()[key]))

    def _refused(self, error: BaseException) -> None:
        self.counts["refused"] += 1
        self.result.error(error.code if isinstance(error, RequestError) else type(error).__name__)

    async def _settle(self, state: PairState) -> None:
        if state.pending:
            await asyncio.wait(set(state.pending))

    # -- ending ---------------------------------------------------------------------------

    def _inbox_expected(self, cid: str) -> set[int]:
        return {0, *self.updated[cid]}

    def _settled(self) -> bool:
        if any(state.pending for state in self.pairs):
            return False
        if any(ledger.last < self.final[cid] for (_, cid), ledger in self.ledgers.items()):
            return False
        return all(
            self._inbox_expected(cid) <= set(seen.get(cid, ()))
            for seen in self.inbox
            for cid in self.updated
        )

    async def drain(self, deadline_ns: int) -> None:
        while time.monotonic_ns() < deadline_ns:
            if self._settled():
                return
            await asyncio.sleep(0.05)

    async def finish(self) -> Any:
        if self.failed:  # a write may be stored though its reply never came
            failed = sorted(self.failed)
            async with Rest(self.plan.nodes[0].url, self.plan.api_key) as rest:
                seqs = await gather_limited([partial(rest.last_seq, cid) for cid in failed])
            for cid, seq in zip(failed, seqs, strict=True):
                self.final[cid] = max(self.final[cid], seq)
        checks = Checks(lost=self.counts["refused"], unexpected=self.counts["stray_events"])
        for (_, cid), ledger in self.ledgers.items():
            checks = checks + ledger.check(self.final[cid])
        inbox, foreign, foreign_events = Checks(), Checks(), 0
        for seen in self.inbox:
            for cid in self.updated:
                inbox = inbox + inbox_check(seen.get(cid, array("l")), self._inbox_expected(cid))
            for cid, got in seen.items():
                if cid not in self.updated:
                    foreign = foreign + inbox_check(got, None)
                    foreign_events += len(got)
        self.result.checks = checks + inbox + foreign
        self.result.extra.update(self.counts)
        self.result.extra.update(self.acks)
        self.result.extra.update(
            inbox_tabs=len(self.tabs),
            inbox_events=inbox.received + foreign_events,
            inbox_checked=inbox.subscriptions,
            inbox_expected=inbox.expected,
            inbox_foreign=foreign_events,
            inbox_lost=inbox.lost,
            inbox_duplicated=inbox.duplicated + foreign.duplicated,
            inbox_out_of_order=inbox.out_of_order + foreign.out_of_order,
            inbox_unexpected=inbox.unexpected,
        )
        closing = [*self.tabs, *self.bots, *(s for p in self.pairs for s in (p.visitor, p.agent))]
        await asyncio.gather(*(s.aclose() for s in closing), return_exceptions=True)
        for session in self.http:
            await session.close()
        return self.result


def _send(sock: Socket, op: str, **fields: Any) -> asyncio.Future[Any]:
    """``sock.send``; on a closed socket, a future that has failed already."""
    try:
        return sock.send(op, **fields)
    except ClosedError as error:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_exception(error)
        return future


def inbox_check(seqs: array[int], expected: set[int] | None) -> Checks:
    """One inbox tab's events of one conversation: each seq once, increasing. With
    ``expected`` (the conversation's created and updated seqs) also none missing or extra."""
    received = set(seqs)
    out_of_order = 0
    highest = -1
    for seq in seqs:
        if seq < highest:
            out_of_order += 1
        highest = max(highest, seq)
    duplicated = len(seqs) - len(received)
    if expected is None:  # only the order is known: nothing counts as expected or received
        return Checks(duplicated=duplicated, out_of_order=out_of_order)
    return Checks(
        subscriptions=1,
        expected=len(expected),
        received=len(seqs),
        lost=len(expected - received),
        duplicated=duplicated,
        out_of_order=out_of_order,
        unexpected=len(received - expected),
    )
