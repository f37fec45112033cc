"""``TransportOutlet``: a session's frames, written straight to its socket's transport.

Frames arrive complete (``framing``: built once per event and codec). A frame is not
written when it is pushed: the socket joins the process's ``Flusher``, which writes, once per
event-loop iteration, everything each socket was given in that iteration in one write. A
burst of events from one Redis read, or a reply and the events around it, costs one system
call per socket rather than one per frame, and no latency: the flush runs before the loop
next waits for I/O.

While the transport has more than its high-water mark unsent (the client does not read), it
pauses the outlet: frames wait here, and ``push`` reports a socket past ``limit`` waiting
frames (the session closes it with 4008); ``put`` waits while more than half the limit
waits. When the transport drains, what waited goes out in one write. A burst of any size
within one iteration (a group commit's messages) cuts nobody who reads: unpaused, the
frames of an iteration all leave at its end.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Final

from prometheus_client import Counter

from gateway.realtime.wire.framing import binary_frame, text_frame

__all__ = ["WIRE_EXTENSION", "Flusher", "TransportOutlet", "flusher"]

#: The ASGI scope extension under which the socket layer offers an outlet factory.
WIRE_EXTENSION: Final = "chatgate.wire"


class TransportOutlet:
    """The outlet of one socket of the socket layer (see the module docstring)."""

    framed = True
    has_writer = False

    __slots__ = (
        "_closed",
        "_counter",
        "_flusher",
        "_limit",
        "_low_water",
        "_paused",
        "_pending",
        "_room",
        "_transport",
    )

    def __init__(
        self,
        transport: asyncio.WriteTransport,
        flusher: Flusher,
        *,
        limit: int,
        frames_out: Counter | None = None,
        paused: bool = False,
    ) -> None:
        self._transport = transport
        self._flusher = flusher
        self._limit = limit
        self._low_water = limit // 2
        self._counter = frames_out
        self._pending: list[bytes] = []
        self._paused = paused
        self._closed = False
        #: Set while a ``put`` waits for the transport to drain.
        self._room: asyncio.Future[None] | None = None

    def frame_of(self, payload: str | bytes) -> bytes:
        if isinstance(payload, str):
            return text_frame(payload.encode())
        return binary_frame(payload)

    def push(self, frame: str | bytes) -> bool:
        if self._closed:
            return True
        pending = self._pending
        if not pending and not self._paused:
            self._flusher.due(self)
        pending.append(frame)  # type: ignore[arg-type]
        # Unpaused, what is pending is this iteration's and leaves at its end, however many:
        # only frames the transport cannot take count against the limit.
        return not self._paused or len(pending) <= self._limit

    async def put(self, frame: str | bytes) -> None:
        while self._paused and len(self._pending) >= self._low_water and not self._closed:
            if self._room is None:
                self._room = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._room)
        self.push(frame)

    async def run(self) -> None:
        """No writer: the flusher and the transport's callbacks write."""

    def close(self) -> None:
        """Take no more frames (what is pending still goes out with ``flush``)."""
        self._closed = True
        self._wake()

    # -- the socket layer's side -------------------------------------------------------------

    def flush(self, *, force: bool = False) -> None:
        """Write what is pending in one write, unless the transport is paused (``force``:
        even then, before a close frame)."""
        pending = self._pending
        if (self._paused and not force) or not pending:
            return
        count = len(pending)
        data = pending[0] if count == 1 else b"".join(pending)
        pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)
        if self._counter is not None:
            self._flusher.count(self._counter, count)

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self.flush()
        self._wake()

    def drop(self) -> None:
        """The connection is gone: forget what is pending."""
        self._pending.clear()
        self.close()

    def _wake(self) -> None:
        if self._room is not None:
            if not self._room.done():
                self._room.set_result(None)
            self._room = None


class Flusher:
    """Writes, once per event-loop iteration, the frames each socket was given in it."""

    __slots__ = ("_counted", "_due", "_loop", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._due: list[TransportOutlet] = []
        self._scheduled = False
        #: Frames written per counter since the last flush: a counter's ``inc`` takes a
        #: lock, once per flush rather than once per socket.
        self._counted: dict[Counter, int] = {}

    def count(self, counter: Counter, frames: int) -> None:
        self._counted[counter] = self._counted.get(counter, 0) + frames
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def due(self, outlet: TransportOutlet) -> None:
        self._due.append(outlet)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        due, self._due = self._due, []
        for outlet in due:
            outlet.flush()
        self._scheduled = False
        counted, self._counted = self._counted, {}
        for counter, frames in counted.items():
            counter.inc(frames)


_FLUSHERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher] = (
    weakref.WeakKeyDictionary()
)


def flusher(loop: asyncio.AbstractEventLoop) -> Flusher:
    """The flusher of ``loop`` (one per event loop, so per process)."""
    found = _FLUSHERS.get(loop)
    if found is None:
        found = _FLUSHERS[loop] = Flusher(loop)
    return found
