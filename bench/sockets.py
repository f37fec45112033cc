"""Which client a socket URL needs: socket.io's path means the socket.io mode, any other URL
chatgate's JSON protocol (which the bare relay speaks too)."""

from __future__ import annotations

from typing import Any

from bench.client import Socket
from bench.socketio_client import PATH, SocketIO

__all__ = ["connect"]


async def connect(url: str, token: str, **options: Any) -> Socket:
    """``Socket.open`` (or ``SocketIO.open``) with the same arguments."""
    kind = SocketIO if PATH.split("?")[0] in url else Socket
    return await kind.open(url, token, **options)
