"""The ``chat`` scenario's load: one worker's pairs, bots and inbox tabs, and its checks."""

from __future__ import annotations

import asyncio
import random
import time
from array import array
from functools import partial
from typing import Any

import aiohttp
import orjson

from bench.client import ClosedError, RequestError, Socket
from bench.ledger import Checks, Ledger
from bench.load import Load, Probe, stamp
from bench.rest import Rest, gather_limited
from bench.scenarios.chat_plan import (
    AGENT,
    BOT,
    COUNTS,
    REST_ACKS,
    SCRIPT,
    SOCKET_ACKS,
    VISITOR,
    Pair,
    Plan,
    Step,
)

__all__ = ["ChatLoad", "PairState", "inbox_check"]

#: Sockets one worker opens at once while preparing.
CONNECT_CONCURRENCY = 64
#: Keep-alive connections of a worker to each node for the REST writes.
HTTP_CONNECTIONS = 64
#: Seconds a REST write may take.
REQUEST_TIMEOUT = 30.0


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
