"""The SSRF-safe image fetcher, against real local servers.

The whole of 127.0.0.0/8 is loopback on Linux: the trusted file server listens on 127.0.0.2,
which is the fetcher's only allow-listed host, so that 127.0.0.1 (and every spelling of it)
stays unsafe. A canary listens on 127.0.0.1 and ::1 and never accepts: the kernel completes
every TCP handshake into its backlog, so draining the backlog afterwards counts, without any
race, each connection the fetcher made.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from ipaddress import ip_address
from urllib.parse import quote

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.media.fetch import Fetcher, FetchPolicy, FetchRefused, address_allowed
from tests.support import live_server, timeout

TRUSTED = "127.0.0.2"
MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3

BODIES = {
    "png": b"\x89PNG\r\n\x1a\n" + b"\0" * 64,
    "jpeg": b"\xff\xd8\xff\xe0\0\x10JFIF\0" + b"\0" * 64,
    "webp": b"RIFF\x48\0\0\0WEBPVP8 " + b"\0" * 64,
    "gif": b"GIF89a\x01\0\x01\0" + b"\0" * 64,
    "html": b"<!doctype html><title>not an image</title>",
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
}


# -- the trusted file server -----------------------------------------------------------------

#: Headers of every request the file servers received, in order.
received: list[dict[str, str]] = []


def record(request: Request) -> None:
    received.append(dict(request.headers))


async def image(request: Request) -> Response:
    """``/img/{kind}/{name}``: the body of ``kind``, labelled with ``?type=`` (a lie, maybe)."""
    record(request)
    kind = request.path_params["kind"]
    media_type = request.query_params.get("type", "application/octet-stream")
    return Response(BODIES[kind], media_type=media_type)


async def redirect(request: Request) -> Response:
    """``/redirect?to=URL&status=302``; ``cookie=1`` also sets a cookie."""
    record(request)
    status = int(request.query_params.get("status", "302"))
    response = Response(status_code=status, headers={"Location": request.query_params["to"]})
    if request.query_params.get("cookie"):
        response.set_cookie("sid", "secret", path="/")
    return response


async def chain(request: Request) -> Response:
    """``/chain/N``: N relative redirects, then a png."""
    record(request)
    n = request.path_params["n"]
    if n == 0:
        return Response(BODIES["png"], media_type="image/png")
    return Response(status_code=302, headers={"Location": str(n - 1)})


async def loop(request: Request) -> Response:
    return Response(status_code=301, headers={"Location": "/loop"})


async def status(request: Request) -> Response:
    """``/status/N``: that status, an image body (none for 204), and no Location."""
    code = request.path_params["code"]
    return Response(b"" if code == 204 else BODIES["png"], status_code=code)


async def big(request: Request) -> Response:
    """``/big/{mode}?size=N``: a png of N bytes, chunked, with its length, or a lying length."""
    size = int(request.query_params["size"])
    body = BODIES["png"].ljust(size, b"\0")
    mode = request.path_params["mode"]
    if mode == "length":
        return Response(body, media_type="image/png")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, 4096):
            yield body[start : start + 4096]
        if mode == "lying":  # declared far more than it has: stall until the client leaves
            await asyncio.sleep(timeout(30))

    headers = {"Content-Length": str(10**9)} if mode == "lying" else None
    return StreamingResponse(chunks(), media_type="image/png", headers=headers)


async def gzipped(request: Request) -> Response:
    body = gzip.compress(BODIES["png"])
    return Response(body, media_type="image/png", headers={"Content-Encoding": "gzip"})


async def trickle(request: Request) -> Response:
    """A png that never ends: a byte every 50 ms. Starlette stops it when the client leaves."""

    async def forever() -> AsyncIterator[bytes]:
        yield BODIES["png"]
        while True:
            await asyncio.sleep(0.05)
            yield b"\0"

    return StreamingResponse(forever(), media_type="image/png")


class Stall:
    """No answer at all until the client goes away (an ASGI app: Route would wrap a function)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with asyncio.timeout(timeout(30)):
            while (await receive())["type"] != "http.disconnect":
                pass


app = Starlette(
    routes=[
        Route("/img/{kind}/{name:path}", image),
        Route("/redirect", redirect),
        Route("/chain/{n:int}", chain),
        Route("/loop", loop),
        Route("/status/{code:int}", status),
        Route("/big/{mode}", big),
        Route("/gzip", gzipped),
        Route("/trickle", trickle),
        Route("/stall", Stall()),
    ]
)


@pytest.fixture(scope="module")
def trusted() -> Iterator[str]:
    """``http://127.0.0.2:PORT``, the allow-listed file server."""
    with live_server(app, host=TRUSTED) as url:
        yield f"http://{TRUSTED}:{url.rsplit(':', 1)[1]}"


@pytest.fixture(scope="module")
def local_server() -> Iterator[str]:
    """The same app on 127.0.0.1, for tests that allow-list ``localhost``."""
    with live_server(app) as url:
        yield url


# -- the canary ------------------------------------------------------------------------------


class Canary:
    """Listeners on 127.0.0.1 and ::1 that nobody accepts from; ``drain`` counts connections."""

    def __init__(self) -> None:
        v4 = socket.create_server(("127.0.0.1", 0))
        self.port: int = v4.getsockname()[1]
        self.listeners = [v4]
        self.port6 = self.port
        try:
            v6 = socket.create_server(("::1", 0), family=socket.AF_INET6)
        except OSError:  # no IPv6 loopback here: [::1] URLs then point at a closed port
            pass
        else:
            self.port6 = v6.getsockname()[1]
            self.listeners.append(v6)
        for listener in self.listeners:
            listener.setblocking(False)

    def drain(self) -> int:
        """Accept and close every connection made since the last drain; how many there were."""
        count = 0
        for listener in self.listeners:
            while True:
                try:
                    connection, _ = listener.accept()
                except BlockingIOError:
                    break
                connection.close()
                count += 1
        return count

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    canary = Canary()
    yield canary
    canary.close()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    policy = FetchPolicy(
        timeout=timeout(5),
        max_bytes=MAX_BYTES,
        max_redirects=MAX_REDIRECTS,
        allowed_hosts=frozenset({TRUSTED}),
    )
    async with Fetcher(policy) as fetcher:
        yield fetcher


async def refusal(fetcher: Fetcher, url: str) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        await fetcher.fetch(url)
    assert caught.value.url == url
    return caught.value


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


# -- fetching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "mime"),
    [("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp"), ("gif", "image/gif")],
)
async def test_fetch_image_by_magic_bytes(
    fetcher: Fetcher, trusted: str, kind: str, mime: str
) -> None:
    """Each image type is fetched, typed by its bytes although the server calls it text."""
    url = f"{trusted}/img/{kind}/picture.bin?type=text/plain"
    fetched = await fetcher.fetch(url)
    assert (fetched.url, fetched.final_url) == (url, url)
    assert fetched.data == BODIES[kind] and fetched.mime == mime
    assert fetched.filename == "picture.bin"


@pytest.mark.parametrize(
    ("path", "filename"),
    [
        ("my%20cat.png?v=2", "my cat.png"),
        ("", None),
        ("a%2F..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("a%5Cb.png", "b.png"),
        ("%2E%2E", None),
        ("tab%09%00.png", "tab.png"),
        ("x" * 300 + ".png", "x" * 200),
    ],
)
async def test_fetch_filename_from_path(
    fetcher: Fetcher, trusted: str, path: str, filename: str | None
) -> None:
    """The filename is the decoded last path segment, with no separators or control chars."""
    fetched = await fetcher.fetch(f"{trusted}/img/png/{path}")
    assert fetched.filename == filename


@pytest.mark.parametrize("kind", ["html", "pdf"])
async def test_fetch_refuses_non_image(fetcher: Fetcher, trusted: str, kind: str) -> None:
    """A body that is not an allowed image is refused, whatever its Content-Type says."""
    url = f"{trusted}/img/{kind}/cat.png?type=image/png"
    assert (await refusal(fetcher, url)).reason == "unsupported_type"


async def test_fetch_refuses_compressed_body(fetcher: Fetcher, trusted: str) -> None:
    """A body sent compressed (though identity was asked for) is not decompressed."""
    refused = await refusal(fetcher, f"{trusted}/gzip")
    assert refused.reason == "unsupported_type" and "gzip" in refused.message


async def test_fetch_respects_allowed_types(trusted: str) -> None:
    """Only the policy's types are accepted."""
    policy = FetchPolicy(allowed_hosts=frozenset({TRUSTED}), allowed_types=frozenset({"image/png"}))
    async with Fetcher(policy) as fetcher:
        assert (await fetcher.fetch(f"{trusted}/img/png/a.png")).mime == "image/png"
        refused = await refusal(fetcher, f"{trusted}/img/gif/a.gif")
    assert refused.reason == "unsupported_type"


@pytest.mark.parametrize("mode", ["chunked", "length", "lying"])
async def test_fetch_refuses_too_large(fetcher: Fetcher, trusted: str, mode: str) -> None:
    """One byte over max_bytes is refused: streamed, declared, or declared falsely."""
    url = f"{trusted}/big/{mode}?size={MAX_BYTES + 1}"
    assert (await refusal(fetcher, url)).reason == "too_large"


@pytest.mark.parametrize("mode", ["chunked", "length"])
async def test_fetch_accepts_max_bytes(fetcher: Fetcher, trusted: str, mode: str) -> None:
    """A body of exactly max_bytes is accepted."""
    fetched = await fetcher.fetch(f"{trusted}/big/{mode}?size={MAX_BYTES}")
    assert len(fetched.data) == MAX_BYTES


@pytest.mark.parametrize("path", ["/stall", "/trickle"])
async def test_fetch_times_out(trusted: str, path: str) -> None:
    """The deadline covers the whole fetch: no answer, or an answer that never ends."""
    policy = FetchPolicy(timeout=timeout(0.5), allowed_hosts=frozenset({TRUSTED}))
    async with Fetcher(policy) as fetcher:
        assert (await refusal(fetcher, trusted + path)).reason == "timeout"


@pytest.mark.parametrize("code", [404, 500, 204, 302])
async def test_fetch_refuses_error_status(fetcher: Fetcher, trusted: str, code: int) -> None:
    """A final answer that is not 2xx (a redirect without Location included) is refused."""
    refused = await refusal(fetcher, f"{trusted}/status/{code}")
    if code == 204:  # a success with no body is no image
        assert refused.reason == "unsupported_type"
    else:
        assert refused.reason == "http_status" and str(code) in refused.message


async def test_fetch_follows_redirects(fetcher: Fetcher, trusted: str) -> None:
    """Relative redirects within the trusted host are followed up to the limit."""
    fetched = await fetcher.fetch(f"{trusted}/chain/{MAX_REDIRECTS}")
    assert fetched.final_url == f"{trusted}/chain/0"
    assert fetched.mime == "image/png" and fetched.filename == "0"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_fetch_follows_every_redirect_status(
    fetcher: Fetcher, trusted: str, status: int
) -> None:
    """Each redirect status with a Location leads to the next hop."""
    target = f"{trusted}/img/gif/x.gif"
    fetched = await fetcher.fetch(f"{trusted}/redirect?status={status}&to={quote(target)}")
    assert fetched.final_url == target and fetched.mime == "image/gif"


async def test_fetch_sends_original_host_and_no_credentials(local_server: str) -> None:
    """The server sees the name asked for in Host, the fetcher's headers, and no cookie."""
    port = int(local_server.rsplit(":", 1)[1])
    base = f"http://localhost:{port}"
    policy = FetchPolicy(allowed_hosts=frozenset({"localhost"}))
    received.clear()
    async with Fetcher(policy) as fetcher:
        target = f"{base}/img/png/a.png"
        fetched = await fetcher.fetch(f"{base}/redirect?cookie=1&to={quote(target)}")
        await fetcher.fetch(target)  # the cookie is not kept for later fetches either
    assert fetched.final_url == target
    assert len(received) == 3
    for headers in received:
        assert headers["host"] == f"localhost:{port}"
        assert headers["user-agent"] == "chatgate-fetch/1"
        assert headers["accept"] == "image/*"
        assert headers["accept-encoding"] == "identity"
        assert "cookie" not in headers and "authorization" not in headers


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
