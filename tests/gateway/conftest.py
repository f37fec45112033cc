"""Fixtures of the gateway tests: a store of each backend, or its database URL, for tests of
what the gateway does with one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.base import Store
from storage.postgres import PostgresStore
from storage.sqlite import SQLiteStore


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file or a PostgreSQL URL (asked for here: its fixture runs its own loop)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database(backend: str) -> str:
    """``backend`` as a database URL (``CHATGATE_DATABASE_URL``), for an app of each backend."""
    return backend if backend.startswith("postgresql:") else f"sqlite:///{backend}"


@pytest.fixture
async def store(backend: str) -> AsyncIterator[Store]:
    """A started store of ``backend``, closed after the test."""
    postgres = backend.startswith("postgresql:")
    opened: Store = PostgresStore(backend) if postgres else SQLiteStore(backend)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.aclose()
