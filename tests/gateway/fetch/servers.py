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
import socket
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gateway.media.fetch import Fetcher, FetchRefused
from tests.support import timeout

__all__ = [
    "BODIES",
    "MAX_BYTES",
    "MAX_REDIRECTS",
    "TRUSTED",
    "Canary",
    "app",
    "received",
    "refusal",
]

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


async def refusal(fetcher: Fetcher, url: str) -> FetchRefused:
    with pytest.raises(FetchRefused) as caught:
        await fetcher.fetch(url)
    assert caught.value.url == url
    return caught.value
