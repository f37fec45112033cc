"""``Keepalive``: one timer per process pings every open socket of the socket layer.

Every ``ws_ping_interval`` seconds each socket that has no ping waiting gets one (a random
4-byte payload); a socket whose ping got no pong within ``ws_ping_timeout`` seconds is closed
with 1011 at the next tick. One timer for all sockets instead of two per socket: an idle
connection costs no timer handle, and a tick's pings leave together.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import Protocol

from uvicorn.config import Config

__all__ = ["Keepalive", "Pinged", "keepalive"]


class Pinged(Protocol):
    """A socket the keepalive pings (``SocketProtocol``)."""

    #: The payload of the ping waiting for its pong (None: none waits), and when it left.
    ping: bytes | None
    ping_at: float

    def send_ping(self, payload: bytes, now: float) -> None: ...

    def ping_expired(self) -> None: ...


class Keepalive:
    """Pings the sockets added to it (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float, timeout: float) -> None:
        self._loop = loop
        self._interval = interval
        self._timeout = timeout
        self._sockets: set[Pinged] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, socket: Pinged) -> None:
        self._sockets.add(socket)
        if self._timer is None:
            self._timer = self._loop.call_later(self._interval, self._tick)

    def discard(self, socket: Pinged) -> None:
        self._sockets.discard(socket)

    def _tick(self) -> None:
        self._timer = None
        now = self._loop.time()
        for socket in tuple(self._sockets):
            if socket.ping is None:
                socket.send_ping(os.urandom(4), now)
            elif now - socket.ping_at >= self._timeout:
                self._sockets.discard(socket)
                socket.ping_expired()
        if self._sockets:
            self._timer = self._loop.call_later(self._interval, self._tick)


_KEEPALIVES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Keepalive] = (
    weakref.WeakKeyDictionary()
)


def keepalive(loop: asyncio.AbstractEventLoop, config: Config) -> Keepalive | None:
    """The process's keepalive for ``config`` (None when ``ws_ping_interval`` is off)."""
    interval = config.ws_ping_interval
    if not interval:
        return None
    found = _KEEPALIVES.get(loop)
    if found is None:
        timeout = config.ws_ping_timeout if config.ws_ping_timeout is not None else interval
        found = _KEEPALIVES[loop] = Keepalive(loop, interval, timeout)
    return found
