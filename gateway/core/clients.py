"""Where a request or socket comes from: the client address that per-address limits count.

The address is the connection's peer (the ASGI scope's ``client``), unless that peer is a
trusted proxy (``CHATGATE_TRUSTED_PROXIES``). Then it is read from ``X-Forwarded-For``, right
to left: each proxy appends the address it saw, so the right-most entry that is not itself a
trusted proxy is the client, and everything to its left was written by that client and may be
forged. With no trusted proxies the header is never read.

Addresses are normalised (``::ffff:1.2.3.4`` is ``1.2.3.4``; IPv6 in its compressed form). A
peer that is not an IP (a test client, some Unix socket servers) is its own text; a
connection with no peer at all has no address (``None``), and per-address limits skip it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any

__all__ = ["ClientAddresses"]

#: Longest non-IP peer text kept as an address (it becomes a rate-limit key).
MAX_NAME = 64
#: Peers whose address is remembered (``ClientAddresses.of``); the memo starts over when full.
MAX_PEERS = 4096

Address = IPv4Address | IPv6Address


class ClientAddresses:
    """Finds the client address of an ASGI connection.

    Args:
        trusted_proxies: the networks whose ``X-Forwarded-For`` is believed.
    """

    def __init__(self, trusted_proxies: Iterable[IPv4Network | IPv6Network] = ()) -> None:
        self._trusted = tuple(trusted_proxies)
        # A peer that is no trusted proxy is its own address whatever the headers say, and
        # parsing it (``ipaddress``) costs more than the rest of a request's bookkeeping.
        self._peers: dict[str, str] = {}

    def of(self, scope: Mapping[str, Any]) -> str | None:
        """The client address of an HTTP request or WebSocket connection (its ASGI scope)."""
        peer = scope.get("client")
        host = peer[0] if peer else None
        if not host:
            return None
        known = self._peers.get(host)
        if known is not None:
            return known
        address = _parse(host)
        if address is None:
            return str(host)[:MAX_NAME]
        if not self._trusts(address):
            if len(self._peers) >= MAX_PEERS:
                self._peers.clear()
            text = self._peers[host] = str(address)
            return text
        # Right to left, the first hop that is not a trusted proxy is the client; when every
        # hop is trusted the request came from inside, and the left-most hop is its origin.
        for entry in reversed(_forwarded_for(scope)):
            hop = _parse(_without_port(entry))
            if hop is None:
                # No trusted proxy writes this: keep the last hop known to be real.
                break
            address = hop
            if not self._trusts(hop):
                break
        return str(address)

    def _trusts(self, address: Address) -> bool:
        return any(address in network for network in self._trusted)


def _parse(text: str) -> Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(scope: Mapping[str, Any]) -> list[str]:
    """Every entry of every ``X-Forwarded-For`` header, in order."""
    entries: list[str] = []
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            entries.extend(part.strip() for part in value.decode("latin-1").split(","))
    return entries


def _without_port(entry: str) -> str:
    """``1.2.3.4:80`` and ``[2001:db8::1]:80`` without their port (some proxies add one)."""
    if entry.startswith("["):
        return entry[1 : entry.find("]")] if "]" in entry else entry
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry
