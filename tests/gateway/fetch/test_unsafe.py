"""Unsafe URLs are refused before any connection is made, and refusals are logged safely."""

from __future__ import annotations

import asyncio
import logging
import socket
from urllib.parse import quote

import pytest

from gateway.media.fetch import Fetcher, FetchPolicy
from tests.gateway.fetch.servers import (
    MAX_REDIRECTS,
    TRUSTED,
    Canary,
    refusal,
)
from tests.support import timeout

# -- unsafe URLs -----------------------------------------------------------------------------


def via(target: str) -> str:
    """A URL on the trusted server that redirects to ``target`` (placeholders kept)."""
    return "{s}/redirect?to=" + quote(target, safe="{}")


UNSAFE = [
    # 127.0.0.1 spelled every way; all lead to the canary.
    ("http://127.0.0.1:{p}/", "unsafe_address"),
    ("https://127.0.0.1:{p}/", "unsafe_address"),
    ("http://localhost:{p}/", "unsafe_address"),
    ("http://LocalHost:{p}/", "unsafe_address"),
    ("http://2130706433:{p}/", "unsafe_address"),  # decimal
    ("http://0x7f000001:{p}/", "unsafe_address"),  # hexadecimal
    ("http://0177.0.0.1:{p}/", "invalid_url"),  # octal: httpx2 rejects it outright
    ("http://127.1:{p}/", "unsafe_address"),  # short form
    ("http://127\u30020\u30020\u30021:{p}/", "unsafe_address"),  # ideographic full stops
    ("http://[::ffff:127.0.0.1]:{p}/", "unsafe_address"),  # IPv4-mapped
    ("http://[::ffff:7f00:1]:{p}/", "unsafe_address"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/", "unsafe_address"),
    ("http://[::127.0.0.1]:{p}/", "unsafe_address"),  # IPv4-compatible
    ("http://[64:ff9b::7f00:1]:{p}/", "unsafe_address"),  # NAT64
    ("http://[64:ff9b:1::7f00:1]:{p}/", "unsafe_address"),  # local-use NAT64
    ("http://[2002:7f00:1::]:{p}/", "unsafe_address"),  # 6to4
    ("http://0.0.0.0:{p}/", "unsafe_address"),
    ("http://0:{p}/", "unsafe_address"),
    ("http://[::1]:{p6}/", "unsafe_address"),
    ("http://[::]:{p6}/", "unsafe_address"),
    ("gopher://127.0.0.1:{p}/", "unsupported_scheme"),
    ("http://127.0.0.1:{p}@{t}/img/png/a.png", "invalid_url"),  # userinfo, host is trusted
    ("http://user:pw@{t}/img/png/a.png", "invalid_url"),
    # Private, metadata and special ranges: refused when vetted, before any connect (these
    # would otherwise hang until the timeout).
    ("http://169.254.169.254/latest/meta-data/", "unsafe_address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "unsafe_address"),
    ("http://100.100.100.200/latest/meta-data/", "unsafe_address"),
    ("http://10.0.0.1/", "unsafe_address"),
    ("http://172.16.0.1/", "unsafe_address"),
    ("http://192.168.1.1/", "unsafe_address"),
    ("http://100.64.0.1/", "unsafe_address"),
    ("http://192.0.0.1/", "unsafe_address"),
    ("http://198.18.0.1/", "unsafe_address"),
    ("http://224.0.0.1/", "unsafe_address"),
    ("http://240.0.0.1/", "unsafe_address"),
    ("http://255.255.255.255/", "unsafe_address"),
    ("http://[fe80::1]/", "unsafe_address"),
    ("http://[fc00::1]/", "unsafe_address"),
    ("http://[ff02::1]/", "unsafe_address"),
    ("http://[::ffff:10.0.0.1]/", "unsafe_address"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "unsafe_address"),  # Teredo
    # Not http at all, or no host.
    ("ftp://example.com/x.png", "unsupported_scheme"),
    ("file:///etc/passwd", "unsupported_scheme"),
    ("javascript:alert(1)", "unsupported_scheme"),
    ("data:image/png;base64,iVBORw0KGgo=", "unsupported_scheme"),
    ("//example.com/x.png", "unsupported_scheme"),
    ("http:///x.png", "invalid_url"),
    ("http://[::1/", "invalid_url"),
    ("http://example.com:99999/", "invalid_url"),
    ("http://127.0.0.1:{pw}/", "invalid_url"),  # getaddrinfo would wrap it to the canary port
    ("http://example.com\\@127.0.0.1:{p}/", "invalid_url"),  # userinfo "example.com\\"
    # Redirects from the trusted server: every hop is vetted like the first.
    (via("http://127.0.0.1:{p}/"), "unsafe_address"),
    (via("http://localhost:{p}/"), "unsafe_address"),
    (via("http://[::1]:{p6}/"), "unsafe_address"),
    (via("http://2130706433:{p}/"), "unsafe_address"),
    (via("http://[::ffff:127.0.0.1]:{p}/"), "unsafe_address"),
    (via("//127.0.0.1:{p}/"), "unsafe_address"),  # scheme-relative
    (via("http://169.254.169.254/latest/meta-data/"), "unsafe_address"),
    (via("http://user:pw@{t}/img/png/a.png"), "invalid_url"),
    (via("gopher://127.0.0.1:{p}/") + "&status=307", "unsupported_scheme"),
    (via("file:///etc/passwd") + "&status=308", "unsupported_scheme"),
    ("{s}/chain/" + str(MAX_REDIRECTS + 1), "too_many_redirects"),
    ("{s}/loop", "redirect_loop"),
]


@pytest.mark.parametrize(("template", "reason"), UNSAFE)
async def test_fetch_refuses_unsafe_url(
    fetcher: Fetcher, trusted: str, canary: Canary, template: str, reason: str
) -> None:
    """Each unsafe URL is refused with its reason, and the canary sees no connection at all."""
    url = template.format(
        p=canary.port,
        pw=canary.port + 65536,
        p6=canary.port6,
        s=trusted,
        t=trusted.removeprefix("http://"),
    )
    try:
        refused = await refusal(fetcher, url)
    finally:
        connections = canary.drain()  # even on failure, so the next case starts clean
    assert (refused.reason, connections) == (reason, 0)


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "::1"])
async def test_canary_counts_connections(canary: Canary, host: str) -> None:
    """The control: allow-listing the host lets the fetch through to the canary, which sees it."""
    if host == "::1" and len(canary.listeners) == 1:
        pytest.skip("no IPv6 loopback here")
    port = canary.port6 if host == "::1" else canary.port
    literal = f"[{host}]" if ":" in host else host
    policy = FetchPolicy(timeout=timeout(0.3), allowed_hosts=frozenset({host}))
    async with Fetcher(policy) as fetcher:
        assert (await refusal(fetcher, f"http://{literal}:{port}/")).reason == "timeout"
    assert canary.drain() == 1


async def test_fetch_connection_refused(fetcher: Fetcher) -> None:
    """Nothing listening on a trusted host's port: connection_failed."""
    with socket.create_server((TRUSTED, 0)) as probe:
        port = probe.getsockname()[1]
    assert (await refusal(fetcher, f"http://{TRUSTED}:{port}/")).reason == "connection_failed"


async def test_fetch_broken_http(fetcher: Fetcher) -> None:
    """A server that answers with something other than HTTP: connection_failed."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, TRUSTED, 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        refused = await refusal(fetcher, f"http://{TRUSTED}:{port}/")
    assert refused.reason == "connection_failed"


async def test_fetch_unresolvable_host(fetcher: Fetcher) -> None:
    """A name with no address is refused as unresolvable."""
    assert (await refusal(fetcher, "http://nowhere.invalid/x.png")).reason == "unresolvable"


async def test_fetch_logs_refusals(fetcher: Fetcher, caplog: pytest.LogCaptureFixture) -> None:
    """An unsafe address is logged as a warning with the URL and the reason."""
    url = "http://169.254.169.254/latest/meta-data/"
    with caplog.at_level(logging.INFO, logger="gateway.media.fetch"):
        await refusal(fetcher, url)
    [entry] = caplog.records
    assert entry.levelno == logging.WARNING
    assert url in entry.getMessage() and "unsafe_address" in entry.getMessage()


async def test_fetch_logs_no_credentials(
    fetcher: Fetcher, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused URL with credentials in it is logged without them."""
    with caplog.at_level(logging.INFO, logger="gateway.media.fetch"):
        await refusal(fetcher, "http://admin:hunter2@example.com/x.png")
    [entry] = caplog.records
    assert "hunter2" not in entry.getMessage() and "invalid_url" in entry.getMessage()
    assert "http://***@example.com/x.png" in entry.getMessage()
