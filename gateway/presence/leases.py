"""Leases: small hashes of entries that each expire unless refreshed (presence, viewers).

A key (``presence:{org}``, ``viewers:{conversation}``) holds fields, each with a value and an
expiry. Every node writes its own sockets' fields and refreshes them; a node that dies stops
refreshing, so its fields expire and read as gone on every node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Leases", "Read"]


@dataclass(frozen=True, slots=True)
class Read:
    """A key's live fields, and the expired ones this read removed (each is reported once:
    by the read that removed it)."""

    live: dict[str, str]
    expired: tuple[str, ...] = ()


class Leases(Protocol):
    """The shared table of expiring entries."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    async def put(self, key: str, field: str, value: str, ttl: float) -> None:
        """Set ``field`` of ``key`` to ``value`` for ``ttl`` seconds from now."""
        ...

    async def remove(self, key: str, field: str) -> bool:
        """Remove ``field``; True if it was there (live or not)."""
        ...

    async def read(self, key: str) -> Read:
        """The live fields of ``key``; expired ones are removed and reported."""
        ...
