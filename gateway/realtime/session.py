"""A session: one WebSocket connection's outbound side and its subscriptions.

Outbound frames leave through the session's ``Outlet`` (``outlet.py``): straight to the
transport under chatgate's own socket layer, through a writer task under other ASGI servers.
Live events are pushed without waiting (``push_*``, called by the registry); when the
outlet's queue is over its limit the session is closed with 4008 (slow consumer) and the
client resumes by ``seq``: a slow client never makes the broker, the registry or any other
session wait. Replies and catch-up events use ``send``, which waits for room instead (they
come from this session's own reader, so waiting is the backpressure). An event's frame is
taken from its ``Push``, built once per codec for every session that gets it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.core.auth import Principal, is_staff
from gateway.core.metrics import Metrics
from gateway.realtime.outlet import Outlet
from gateway.realtime.push import Push
from protocol.codes import CloseCode
from protocol.encoding import Codec
from storage.base import StoredEvent

__all__ = ["Session", "Subscription"]

log = logging.getLogger(__name__)

#: Live events held per subscription while its backlog is read; past this the buffer is
#: dropped and the backlog read again from storage (which has everything).
CATCH_UP_BUFFER = 1000
PAGE = 200

ReadPage = Callable[[int], Awaitable[list[StoredEvent]]]


@dataclass(slots=True)
class Subscription:
    """A followed conversation: the last seq sent, or a buffer while catching up."""

    cursor: int
    buffer: list[Push] | None = field(default_factory=list)
    overflowed: bool = False


class Session:
    """The server side of one socket.

    Args:
        session_id: unique id (logs, metrics, request ids).
        codec: the negotiated codec; every frame of this session uses it.
        outlet: where its frames go (it holds those the socket has not taken yet).
    """

    def __init__(self, session_id: str, codec: Codec, outlet: Outlet, *, metrics: Metrics) -> None:
        self.id = session_id
        self.codec = codec
        self._principal: Principal | None = None
        #: An agent's or API key's socket: every event, private notes and ``viewing`` too.
        self.staff = False
        self.subscriptions: dict[str, Subscription] = {}
        self.inbox_channel: str | None = None
        self.close_code: CloseCode | None = None
        self.close_reason = ""
        self._outlet = outlet
        self._framed = outlet.framed
        self._metrics = metrics
        #: The reader (the task that called ``run``) and the writer, if the outlet has one.
        self._tasks: list[asyncio.Task[Any]] = []
        self._reader_stopped = False

    @property
    def channels(self) -> list[str]:
        channels = [f"conv:{cid}" for cid in self.subscriptions]
        if self.inbox_channel is not None:
            channels.append(self.inbox_channel)
        return channels

    # -- live pushes (registry side; never wait) ------------------------------------------

    @property
    def principal(self) -> Principal | None:
        return self._principal

    @principal.setter
    def principal(self, principal: Principal) -> None:
        self._principal = principal
        self.staff = is_staff(principal)

    def _audience(self, push: Push) -> Push | None:
        return push if self.staff else push.for_visitors()

    def _frame(self, push: Push) -> str | bytes:
        return push.framed(self.codec) if self._framed else push.encoded(self.codec)

    def push_event(self, conversation_id: str, push: Push) -> None:
        """An ordered conversation event, from its room. A private note never reaches a
        socket that is not staff: its seq is a gap there (see docs/protocol.md)."""
        sub = self.subscriptions.get(conversation_id)
        if sub is None:
            return
        seen = self._audience(push)
        if seen is None:
            return
        push = seen
        if sub.buffer is not None:
            if len(sub.buffer) >= CATCH_UP_BUFFER:
                sub.buffer.clear()
                sub.overflowed = True
            sub.buffer.append(push)
        elif push.seq is not None and push.seq > sub.cursor:
            sub.cursor = push.seq
            self._push(self._frame(push))

    def push_volatile(self, push: Push) -> None:
        """A volatile event (``typing``, ``read``, ``viewing``): no seq, delivered as it
        comes, in the form this socket's audience gets."""
        if push.conversation_id in self.subscriptions:
            seen = self._audience(push)
            if seen is not None:
                self._push(self._frame(seen))

    def push_inbox(self, push: Push) -> None:
        """An org-wide event. Conversations this session follows arrive through their own
        room, in order, so their inbox copies are skipped."""
        if push.conversation_id not in self.subscriptions:
            seen = self._audience(push)
            if seen is not None:
                self._push(self._frame(seen))

    def _push(self, frame: str | bytes) -> None:
        if self.close_code is not None:
            return
        if not self._outlet.push(frame):
            self._metrics.slow_consumers.inc()
            self.fail(CloseCode.SLOW_CONSUMER, "slow consumer: resume by seq")

    # -- own frames (reader side; wait for room) ------------------------------------------

    async def send(self, obj: Any) -> None:
        """Encode and queue a reply or another frame of this session's own."""
        await self._outlet.put(self._outlet.frame_of(self.codec.encode(obj)))

    async def follow(self, conversation_id: str, after_seq: int, read_page: ReadPage) -> int:
        """Send the conversation's events after ``after_seq``, then its live events.

        The caller must have joined the conversation's room *after* calling ``watch`` and
        *before* awaiting this, so that nothing falls between the backlog and live
        traffic. Returns the number of backlog events sent.
        """
        sub = self.subscriptions[conversation_id]
        cursor = after_seq
        sent = 0
        while True:
            page = await read_page(cursor)
            for event in page:
                await self._outlet.put(self._frame(Push.from_event(event)))
                cursor = event.seq
                sent += 1
            if len(page) == PAGE:
                continue
            if sub.overflowed:
                sub.overflowed = False
                continue
            # No await from here on: the buffer cannot grow while we switch to live. The
            # buffer is bounded (CATCH_UP_BUFFER), so it goes out whatever the queue holds.
            for push in sub.buffer or ():
                if push.seq is not None and push.seq > cursor:
                    cursor = push.seq
                    self._outlet.push(self._frame(push))
            sub.buffer = None
            sub.cursor = cursor
            return sent

    def watch(self, conversation_id: str) -> Subscription:
        """Start (or restart) following a conversation: live events are buffered until
        ``follow`` has sent the backlog."""
        sub = Subscription(cursor=0)
        self.subscriptions[conversation_id] = sub
        return sub

    # -- running --------------------------------------------------------------------------

    async def run(self, read_loop: Callable[[], Awaitable[None]]) -> None:
        """Run the reader (in the calling task: one task less per connection) and the
        outlet's writer, if it has one, until either ends or ``fail`` is called."""
        reader = asyncio.current_task()
        assert reader is not None
        writer = None
        if self._outlet.has_writer:
            writer = asyncio.create_task(self._guard(self._outlet.run))
        self._tasks = [reader] if writer is None else [reader, writer]
        try:
            await self._guard(read_loop)
        except asyncio.CancelledError:
            # Ours to swallow only if ``fail`` alone cancelled it (not a shutdown too).
            if not self._reader_stopped or reader.uncancel() > 0:
                raise
        finally:
            self._tasks = []  # the calling task goes on (closing the socket): not ours now
            if writer is not None:
                writer.cancel()
                await asyncio.gather(writer, return_exceptions=True)

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session %s failed", self.id)
            self.fail(CloseCode.INTERNAL_ERROR, "internal error")
        else:
            self.fail(CloseCode.NORMAL, "")

    def fail(self, code: CloseCode, reason: str) -> None:
        """End the session with ``code`` (the first call wins). Never waits."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
        self._outlet.close()
        current = asyncio.current_task()
        for index, task in enumerate(self._tasks):
            if task is not current and not task.done():
                if index == 0:
                    self._reader_stopped = True
                task.cancel()
