"""``TaskOutlet``: a session's frames through an ASGI ``send``, for servers other than
chatgate's own socket layer.

Frames wait in a bounded queue drained by one writer task. When several are queued the
writer packs up to ``max_batch`` of them into one array frame. A frame for an idle socket
(nothing queued, the writer waiting) is written at once, without waking the writer task: the
ASGI ``send`` of a writable socket completes without suspending, and if it does suspend (the
transport pushed back) the writer finishes it before anything else goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.core.metrics import Metrics
from protocol.encoding import Codec

__all__ = ["TaskOutlet"]

log = logging.getLogger(__name__)

SendFrame = Callable[[str | bytes], Coroutine[Any, Any, None]]


class TaskOutlet:
    """Frames for an ASGI ``send``, written by a task of the session's.

    Args:
        send_frame: writes one frame (payload) to the socket.
        codec: the session's codec, to pack queued frames into one array frame.
        queue_size: frames that may wait; more and ``push`` says the socket is too slow.
        max_batch: most frames packed into one array frame.
        on_failure: called when a write fails (the socket is gone).
    """

    framed = False
    has_writer = True

    def __init__(
        self,
        send_frame: SendFrame,
        codec: Codec,
        *,
        queue_size: int,
        max_batch: int,
        metrics: Metrics,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self._send_frame = send_frame
        self._codec = codec
        self._queue: deque[Any] = deque()
        self._limit = queue_size
        self._low_water = queue_size // 2
        self._max_batch = max_batch
        self._metrics = metrics
        self.on_failure = on_failure
        self._wakeup = asyncio.Event()
        self._space = asyncio.Event()
        self._closed = False
        #: The writer waits for frames with nothing queued: a frame may be written at once.
        self._idle = False
        #: A send written at once that suspended: (its coroutine, what it waits for).
        self._suspended: tuple[Coroutine[Any, Any, None], Any] | None = None

    def frame_of(self, payload: str | bytes) -> str | bytes:
        return payload

    def push(self, frame: str | bytes) -> bool:
        if len(self._queue) >= self._limit:
            return False
        self._enqueue(frame)
        return True

    async def put(self, frame: str | bytes) -> None:
        while len(self._queue) >= self._low_water and not self._closed:
            self._space.clear()
            await self._space.wait()
        self._enqueue(frame)

    def close(self) -> None:
        self._closed = True
        self._space.set()

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
            log.debug("write failed: %r", exc)
            self.on_failure()
            return
        self._suspended = (send, waiting)
        self._wakeup.set()

    async def run(self) -> None:
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
                frame = self._codec.join([queue.popleft() for _ in range(count)])
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
