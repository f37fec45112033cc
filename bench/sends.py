"""Socket sends a worker makes and what they establish: each conversation's final seq.

``Sends`` paces ``message.send`` open loop (a late reply never delays the next send; how late
each send left is recorded), counts acks and refusals, and keeps the highest acked seq per
conversation. ``settle`` then asks the gateway for each conversation's last seq: a send
whose reply never came (an overloaded run's drain ran out) may still have been stored, and
every follower must end up with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from bench.client import RequestError, Socket
from bench.load import WorkerResult, stamp
from bench.sockets import connect

__all__ = ["Sends"]


class Sends:
    """A worker's sends and their outcome, per conversation."""

    def __init__(self, result: WorkerResult, conversation_ids: Iterable[str]) -> None:
        self.result = result
        self.final: dict[str, int] = dict.fromkeys(conversation_ids, 0)
        self.pending: set[asyncio.Future[Any]] = set()

    def send(self, sock: Socket, conversation_id: str, content: str, **fields: Any) -> None:
        """One ``message.send``, now."""
        future = sock.send(
            "message.send", conversation_id=conversation_id, content=content, **fields
        )
        self.result.sent += 1
        self.pending.add(future)
        future.add_done_callback(partial(self._acked, conversation_id))

    async def pace(
        self,
        sock: Socket,
        conversation_id: str,
        *,
        rate: float,
        size: int,
        start_ns: int,
        stop_ns: int,
        phase: float,
    ) -> None:
        """``rate`` sends a second from ``start_ns`` (offset by ``phase`` of an interval)
        until ``stop_ns``, each stamped with the time it left."""
        interval = int(1e9 / rate)
        due = start_ns + int(interval * phase)
        lag = self.result.lag
        while due < stop_ns:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            lag.append((now - due) // 1000)
            self.send(sock, conversation_id, stamp(size, now))
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

    async def settle(self, url: str | Mapping[str, str], token: str, deadline_ns: int) -> None:
        """Wait for the replies (until ``deadline_ns``), then take each conversation's last
        seq from the server, on a socket of its own (a sender may have been closed): at
        ``url``, or at ``url[conversation_id]`` (a baseline knows a room's last seq only on
        the node that numbers its messages)."""
        if self.pending:
            left = (deadline_ns - time.monotonic_ns()) / 1e9
            await asyncio.wait(tuple(self.pending), timeout=max(0.0, left))
        where = dict.fromkeys(self.final, url) if isinstance(url, str) else url
        for node in sorted(set(where.values())):
            asking = await connect(node, token)
            try:
                for cid in self.final:
                    if where[cid] == node:
                        self.final[cid] = max(self.final[cid], await asking.last_seq(cid))
            finally:
                await asking.aclose()
