"""Fixtures of the fetcher tests: the trusted file server, the canary, a fetcher."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.media.fetch import Fetcher, FetchPolicy
from tests.gateway.fetch.servers import (
    MAX_BYTES,
    MAX_REDIRECTS,
    TRUSTED,
    Canary,
    app,
)
from tests.support import live_server, timeout


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
