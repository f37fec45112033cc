"""An ``Outlet``: how a session's frames leave for its socket.

The session decides what to send and when a client is too slow; the outlet holds the frames
until the socket takes them. Two kinds exist:

- ``wire.TransportOutlet`` under chatgate's own socket layer (``chatgate serve``): frames are
  complete WebSocket frames, built once per event and codec, written straight to the
  transport, the frames of one event-loop iteration in one write.
- ``TaskOutlet`` under any other ASGI server (and Starlette's test client): frames are
  payloads handed to the ASGI ``send`` by a writer task.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Outlet"]


class Outlet(Protocol):
    """Where a session's frames go."""

    @property
    def framed(self) -> bool:
        """Whether frames are complete WebSocket frames (bytes) rather than payloads."""
        ...

    @property
    def has_writer(self) -> bool:
        """Whether ``run`` is a writer the session must run beside its reader."""
        ...

    def frame_of(self, payload: str | bytes) -> str | bytes:
        """The frame this outlet takes for one encoded payload of the session's codec."""
        ...

    def push(self, frame: str | bytes) -> bool:
        """Queue a frame without waiting. False when the queue is now over its limit: the
        socket does not keep up (the session closes it with 4008)."""
        ...

    async def put(self, frame: str | bytes) -> None:
        """Queue a frame of the session's own (a reply, a replayed event), waiting while
        the queue is more than half full, so that live events keep the other half."""
        ...

    async def run(self) -> None:
        """The writer, for an outlet that has one (``has_writer``)."""
        ...

    def close(self) -> None:
        """Take no more frames and release every ``put`` waiting for room."""
        ...
