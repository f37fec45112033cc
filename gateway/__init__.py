"""The chatgate gateway: Starlette app, REST routes, WebSocket endpoint, command bus, broker."""

from __future__ import annotations

__all__: list[str] = []
