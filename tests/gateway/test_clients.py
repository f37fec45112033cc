"""The client address of a connection: its peer, or X-Forwarded-For behind trusted proxies."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest

from gateway.core.clients import ClientAddresses

PROXIES = ClientAddresses([ip_network("10.0.0.0/24"), ip_network("2001:db8:ffff::/48")])


def scope(peer: tuple[str, int] | None, *forwarded_for: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded_for]
    return {"type": "http", "client": peer, "headers": [(b"host", b"chat"), *headers]}


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "address"),
    [
        pytest.param(("203.0.113.9", 1), ["198.51.100.1"], "203.0.113.9", id="untrusted-peer"),
        pytest.param(("10.0.0.2", 1), [], "10.0.0.2", id="proxy-without-header"),
        pytest.param(("10.0.0.2", 1), ["198.51.100.1"], "198.51.100.1", id="one-proxy"),
        pytest.param(
            ("10.0.0.2", 1), ["192.0.2.66, 198.51.100.1"], "198.51.100.1", id="forged-left-part"
        ),
        pytest.param(("10.0.0.2", 1), ["198.51.100.1, 10.0.0.3"], "198.51.100.1", id="two-proxies"),
        pytest.param(
            ("10.0.0.2", 1), ["192.0.2.66", "198.51.100.1"], "198.51.100.1", id="two-headers"
        ),
        pytest.param(("10.0.0.2", 1), ["10.0.0.5, 10.0.0.4"], "10.0.0.5", id="all-trusted"),
        pytest.param(("10.0.0.2", 1), ["198.51.100.1:4711"], "198.51.100.1", id="ipv4-port"),
        pytest.param(
            ("10.0.0.2", 1), ["[2001:DB8::0001]:443"], "2001:db8::1", id="ipv6-port-normalised"
        ),
        pytest.param(("10.0.0.2", 1), ["192.0.2.66, unknown"], "10.0.0.2", id="not-an-ip"),
        pytest.param(("10.0.0.2", 1), [" , "], "10.0.0.2", id="empty-entries"),
        pytest.param(("2001:db8:ffff::2", 1), ["2001:db8::7"], "2001:db8::7", id="ipv6-proxy"),
        pytest.param(("::ffff:10.0.0.2", 1), ["198.51.100.1"], "198.51.100.1", id="v4-mapped"),
        pytest.param(("testclient", 50000), ["198.51.100.1"], "testclient", id="not-an-ip-peer"),
        pytest.param(None, ["198.51.100.1"], None, id="no-peer"),
    ],
)
def test_clients_address_of_a_connection(
    peer: tuple[str, int] | None, forwarded_for: list[str], address: str | None
) -> None:
    """The peer, unless it is a trusted proxy: then the right-most X-Forwarded-For entry that
    is not a trusted proxy (forged entries to its left are ignored); normalised IPs."""
    assert PROXIES.of(scope(peer, *forwarded_for)) == address


def test_clients_without_trusted_proxies_never_read_the_header() -> None:
    """With no trusted proxy, X-Forwarded-For is ignored even from a private or loopback peer."""
    nobody = ClientAddresses()
    assert nobody.of(scope(("127.0.0.1", 1), "198.51.100.1")) == "127.0.0.1"
    assert nobody.of(scope(("10.0.0.2", 1), "198.51.100.1")) == "10.0.0.2"
