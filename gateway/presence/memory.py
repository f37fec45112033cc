"""Leases in process: one gateway process (the embedded default)."""

from __future__ import annotations

import time

from gateway.presence.leases import Read

__all__ = ["MemoryLeases"]


class MemoryLeases:
    """``Leases`` in a dict; expiry by the monotonic clock."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, tuple[str, float]]] = {}

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        self._keys.clear()

    async def put(self, key: str, field: str, value: str, ttl: float) -> None:
        self._keys.setdefault(key, {})[field] = (value, time.monotonic() + ttl)

    async def remove(self, key: str, field: str) -> bool:
        fields = self._keys.get(key)
        if fields is None or fields.pop(field, None) is None:
            return False
        if not fields:
            del self._keys[key]
        return True

    async def read(self, key: str) -> Read:
        fields = self._keys.get(key, {})
        now = time.monotonic()
        expired = tuple(f for f, (_, until) in fields.items() if until <= now)
        for field in expired:
            del fields[field]
        if not fields:
            self._keys.pop(key, None)
        return Read({f: value for f, (value, _) in fields.items()}, expired)
