"""The address table: which IP addresses the fetcher may connect to."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from gateway.media.fetch import FetchPolicy, FetchRefused, address_allowed

# -- the address table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700:4700::1111",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "64:ff9b::808:808",  # NAT64 of a public address
        "2002:808:808::1",  # 6to4 of a public address
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo: both ends public
    ],
)
def test_address_allowed_public(address: str) -> None:
    """Public unicast addresses, and IPv6 forms of public IPv4 ones, are allowed."""
    assert address_allowed(ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.100.100.200",  # Alibaba metadata
        "100.127.255.255",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.0.1",
        "169.254.169.254",  # cloud metadata
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.168.0.1",
        "198.18.0.1",
        "198.19.255.255",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata
        "fe80::1",
        "febf::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "::127.0.0.1",
        "::10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64, 10.0.0.1 in the last 32 bits
        "64:ff9b:1:7f00:1:0:808:808",  # local-use NAT64, 127.0.0.1 at the RFC 6052 /48 spot
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo, client 192.0.2.45
        "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo, server 10.0.0.1
    ],
)
def test_address_allowed_refuses(address: str) -> None:
    """Private, loopback, link-local, metadata, special and IPv4-carrying forms are refused."""
    assert not address_allowed(ip_address(address))


def test_fetch_policy_validates() -> None:
    """Out-of-range limits and upper-case allowed hosts are configuration errors."""
    for bad in (
        {"timeout": 0},
        {"max_bytes": 0},
        {"max_redirects": -1},
        {"allowed_hosts": frozenset({"CDN.example"})},
    ):
        with pytest.raises(ValueError):
            FetchPolicy(**bad)


def test_fetch_refused_carries_url_and_reason() -> None:
    """The exception exposes the URL, the reason code and the message."""
    refused = FetchRefused("http://x/", "timeout", "too slow")
    assert (refused.url, refused.reason, str(refused)) == ("http://x/", "timeout", "too slow")
