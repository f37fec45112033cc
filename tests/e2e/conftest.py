"""End-to-end fixtures: the real app on a real uvicorn, real WebSocket and HTTP clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx2 as httpx
import pytest

from gateway.app import create_app
from gateway.handlers.orgs import OrgCredentials
from gateway.settings import Settings
from tests.support import live_server, new_org, timeout


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
async def http(server: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server, timeout=timeout(30)) as client:
        yield client


@pytest.fixture
async def org(server: str, database_url: str) -> OrgCredentials:
    return await new_org(database_url, "Acme")
