"""What the fetcher takes: images by magic bytes, within size and time, through redirects."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from gateway.media.fetch import Fetcher, FetchPolicy
from tests.gateway.fetch.servers import (
    BODIES,
    MAX_BYTES,
    MAX_REDIRECTS,
    TRUSTED,
    received,
    refusal,
)
from tests.support import timeout

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
