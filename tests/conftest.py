"""Shared fixtures. Service policy: tests that need PostgreSQL or Redis skip loudly without
them, and fail instead when ``CHATGATE_REQUIRE_SERVICES=1`` (CI)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

# The contract suites live outside test modules; have pytest rewrite their asserts too.
pytest.register_assert_rewrite("tests.contracts")

from starlette.testclient import TestClient  # noqa: E402

from gateway.admin import OrgCredentials  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests.support import new_org  # noqa: E402


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/chatgate.db"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key-of-decent-length!")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app in-process (starlette TestClient), lifespan included."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(client: TestClient, database_url: str) -> OrgCredentials:
    return asyncio.run(new_org(database_url, "Acme"))


@pytest.fixture
def other_org(client: TestClient, database_url: str) -> OrgCredentials:
    return asyncio.run(new_org(database_url, "Globex"))


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "store.db") as store:
        yield store
