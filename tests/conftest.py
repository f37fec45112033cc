"""Shared fixtures. Service policy: tests that need PostgreSQL or Redis skip loudly without
them, and fail instead when ``CHATGATE_REQUIRE_SERVICES=1`` (CI).

``make test`` runs the suite on two pytest-xdist workers (``--dist loadfile``: a module's
tests stay on one worker, so module-scoped fixtures start once; the long modules go first).
What two tests running side by side share is kept apart: PostgreSQL by a fresh schema per test,
the machine's Redis by a database per worker, files by pytest's per-worker temporary
directories, the ports of the processes tests start by picking them where no outgoing
connection takes its local port (bench/ports.py).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

# The contract suites live outside test modules; have pytest rewrite their asserts too.
pytest.register_assert_rewrite("tests.contracts")

from starlette.testclient import TestClient  # noqa: E402

from bench.services import RedisClusterProcesses, RedisServer  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.handlers.orgs import OrgCredentials  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from storage.sqlite import SQLiteStore  # noqa: E402
from tests import reports  # noqa: E402
from tests.support import new_org  # noqa: E402

#: CI sets this: a test that would skip for lack of a service fails instead.
REQUIRE_SERVICES = os.environ.get("CHATGATE_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "CHATGATE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: The machine's own Redis, which CI starts (most tests start redis-server processes instead).
SHARED_REDIS = "redis://127.0.0.1:6379"


def service_missing(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CHATGATE_REQUIRE_SERVICES=1 forbids skipping)")
    pytest.skip(f"SERVICE MISSING: {reason}")


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


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server's URL, once it answers."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        service_missing(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A database URL whose objects live in a fresh schema, dropped afterwards."""
    with postgres_schema(postgres_server) as url:
        yield url


@contextmanager
def postgres_schema(postgres_server: str) -> Iterator[str]:
    """``postgres_url`` for fixtures of a wider scope."""
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(postgres_server)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{postgres_server}?search_path={schema}"
    finally:
        asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture(scope="session")
def shared_redis_url() -> str:
    """The machine's Redis, in a database of this pytest worker's own (1 for gw0, 2 for gw1...;
    0 without workers), so that two tests running at once never meet in one key. Channels are
    not per database in Redis, but the gateway names each after a conversation or an org, and
    every test makes its own."""
    import redis

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    database = 1 + int(worker.removeprefix("gw")) % 15 if worker else 0
    url = f"{SHARED_REDIS}/{database}"
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at {SHARED_REDIS} is not reachable: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def redis_binaries() -> None:
    from bench.services import redis_available

    if not redis_available():
        service_missing("redis-server and redis-cli are not installed")


@pytest.fixture(scope="module")
def redis_nodes(redis_binaries: None) -> Iterator[list[RedisServer]]:
    """Three standalone redis-server processes on free ports (shared by a module)."""
    nodes = [RedisServer().start() for _ in range(3)]
    yield nodes
    for node in nodes:
        node.stop()


@pytest.fixture(scope="module")
def redis_cluster(redis_binaries: None) -> Iterator[RedisClusterProcesses]:
    """A 3-primary Redis Cluster on free ports (shared by a module)."""
    cluster = RedisClusterProcesses(3).start()
    yield cluster
    cluster.stop()


#: Marks of tests that start processes, servers or a browser, or may outlast the suite's timeout.
LONG_MARKS = frozenset({"e2e", "browser", "postgres", "redis", "timeout"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with such tests first, the rest after them, each in collection order. pytest-xdist
    hands modules out in this order (``make test``: ``--no-loadscope-reorder``), so the run ends
    on short modules, never with one worker idle while the other starts a minute-long one."""
    long = {item.path for item in items if any(m.name in LONG_MARKS for m in item.iter_markers())}
    items.sort(key=lambda item: item.path not in long)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand what this worker measured to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["chatgate_reports"] = reports.SECTIONS


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller: a worker finished; keep what it measured."""
    reports.merge(getattr(node, "workeroutput", {}).get("chatgate_reports", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for title, lines in reports.SECTIONS.items():
        if not lines:
            continue
        terminalreporter.section(title)
        for name, value in lines.items():
            terminalreporter.write_line(f"{name}: {value}")
