"""A session: one WebSocket connection's outbound side and its subscriptions.

Outbound frames wait in a bounded queue drained by one writer task. Live events are pushed
without waiting (``push_*``, called by the registry); when the queue is full the session is
closed with 4008 (slow consumer) and the client resumes by ``seq``: a slow client never
makes the broker, the registry or any other session wait. Replies and catch-up events use
``send``, which waits for room instead (they come from this session's own reader, so
waiting is the backpressure). When several frames are queued the writer packs up to
``max_batch`` of them into one array frame. A frame for an idle session (nothing queued, the
writer waiting) is written at once, without waking the writer task: the ASGI ``send`` of a
writable socket completes without suspending, and if it does suspend (the transport pushed
back) the writer finishes it before anything else goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from gateway.core.auth import Principal, is_staff
from gateway.core.metrics import Metrics
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

SendFrame = Callable[[str | bytes], Coroutine[Any, Any, None]]
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
        send_frame: writes one frame to the socket.
        queue_size: frames that may wait; more closes the session with 4008.
        max_batch: most frames packed into one array frame.
    """

    def __init__(
        self,
        session_id: str,
        codec: Codec,
        send_frame: SendFrame,
        *,
        queue_size: int,
        max_batch: int,
        metrics: Metrics,
    ) -> None:
        self.id = session_id
        self.codec = codec
        self.principal: Principal | None = None
        self.subscriptions: dict[str, Subscription] = {}
        self.inbox_channel: str | None = None
        self.close_code: CloseCode | None = None
        self.close_reason = ""
        self._send_frame = send_frame
        self._queue: deque[Any] = deque()
        self._limit = queue_size
        self._low_water = queue_size // 2
        self._max_batch = max_batch
        self._metrics = metrics
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        #: The reader (the task that called ``run``) and the writer.
        self._tasks: list[asyncio.Task[Any]] = []
        self._reader_stopped = False
        #: The writer waits for frames with nothing queued: a frame may be written at once.
        self._idle = False
        #: A send written at once that suspended: (its coroutine, what it waits for).
        self._suspended: tuple[Coroutine[Any, Any, None], Any] | None = None

    @property
    def channels(self) -> list[str]:
        channels = [f"conv:{cid}" for cid in self.subscriptions]
        if self.inbox_channel is not None:
            channels.append(self.inbox_channel)
        return channels

    # -- live pushes (registry side; never wait) ------------------------------------------

    @property
    def staff(self) -> bool:
        """An agent's or API key's socket: every event, private notes and ``viewing`` too."""
        return self.principal is not None and is_staff(self.principal)

    def _audience(self, push: Push) -> Push | None:
        return push if self.staff else push.for_visitors()

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
            self._push(push.encoded(self.codec))

    def push_volatile(self, push: Push) -> None:
        """A volatile event (``typing``, ``read``, ``viewing``): no seq, delivered as it
        comes, in the form this socket's audience gets."""
        if push.conversation_id in self.subscriptions:
            seen = self._audience(push)
            if seen is not None:
                self._push(seen.encoded(self.codec))

    def push_inbox(self, push: Push) -> None:
        """An org-wide event. Conversations this session follows arrive through their own
        room, in order, so their inbox copies are skipped."""
        if push.conversation_id not in self.subscriptions:
            seen = self._audience(push)
            if seen is not None:
                self._push(seen.encoded(self.codec))

    def _push(self, frame: str | bytes) -> None:
        if self.close_code is not None:
            return
        if len(self._queue) >= self._limit:
            self._metrics.slow_consumers.inc()
            self.fail(CloseCode.SLOW_CONSUMER, "slow consumer: resume by seq")
            return
        self._enqueue(frame)

    def _enqueue(self, frame: str | bytes) -> None:
        if self._idle and not self._queue and self._suspended is None:
            self._write_now(frame)
            return
        self._queue.append(frame)
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _write_now(self, frame: str | bytes) -> None:
        """Write one frame from here, without a hop through the writer task."""
        send = self._send_frame(frame)
        try:
            waiting = send.send(None)
        except StopIteration:
            self._metrics.frames_out.inc()
            return
        except Exception as exc:
            # The socket is gone (uvicorn raises ClientDisconnected); the reader sees it too.
            log.debug("session %s: write failed: %r", self.id, exc)
            self.fail(CloseCode.INTERNAL_ERROR, "write failed")
            return
        self._suspended = (send, waiting)
        self._wakeup.set()

    # -- own frames (reader side; wait for room) ------------------------------------------

    async def send(self, obj: Any) -> None:
        """Encode and queue a reply or another frame of this session's own."""
        await self.send_encoded(self.codec.encode(obj))

    async def send_encoded(self, frame: str | bytes) -> None:
        # Wait below the low-water mark, so that the other half of the queue stays free
        # for live events and a long backlog never turns a reading client into a "slow" one.
        while len(self._queue) >= self._low_water and self.close_code is None:
            self._space.clear()
            await self._space.wait()
        self._enqueue(frame)

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
                await self.send_encoded(Push.from_event(event).encoded(self.codec))
                cursor = event.seq
                sent += 1
            if len(page) == PAGE:
                continue
            if sub.overflowed:
                sub.overflowed = False
                continue
            # No await from here on: the buffer cannot grow while we switch to live.
            for push in sub.buffer or ():
                if push.seq is not None and push.seq > cursor:
                    cursor = push.seq
                    self._enqueue(push.encoded(self.codec))
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
        writer until either ends or ``fail`` is called."""
        reader = asyncio.current_task()
        assert reader is not None
        writer = asyncio.create_task(self._guard(self._write_loop))
        self._tasks = [reader, writer]
        try:
            await self._guard(read_loop)
        except asyncio.CancelledError:
            # Ours to swallow only if ``fail`` alone cancelled it (not a shutdown too).
            if not self._reader_stopped or reader.uncancel() > 0:
                raise
        finally:
            self._tasks = []  # the calling task goes on (closing the socket): not ours now
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
        self._space.set()
        current = asyncio.current_task()
        for index, task in enumerate(self._tasks):
            if task is not current and not task.done():
                if index == 0:
                    self._reader_stopped = True
                task.cancel()

    async def _write_loop(self) -> None:
        queue = self._queue
        while True:
            if self._suspended is not None:
                await _finish(*self._suspended)
                self._suspended = None
                self._metrics.frames_out.inc()
            if not queue:
                self._wakeup.clear()
                self._idle = True
                try:
                    await self._wakeup.wait()
                finally:
                    self._idle = False
                continue
            count = min(len(queue), self._max_batch)
            if count == 1:
                frame = queue.popleft()
            else:
                frame = self.codec.join([queue.popleft() for _ in range(count)])
            if len(queue) < self._low_water:
                self._space.set()
            await self._send_frame(frame)
            self._metrics.frames_out.inc()


async def _finish(send: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive a send coroutine that suspended on ``waiting`` (a future, or None for a bare
    yield) to its end, as a task would have. The future is waited on from outside (its
    own iterator stays with the coroutine, which reads its result or exception itself)."""
    try:
        while True:
            if waiting is None:
                await asyncio.sleep(0)
            else:
                await asyncio.wait((waiting,))
            waiting = send.send(None)
    except StopIteration:
        return
    finally:
        send.close()
