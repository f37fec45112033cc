"""The assembled app with injected parts: readiness, and persist-then-publish under faults."""

from __future__ import annotations

import asyncio
from pathlib import Path

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.handlers.orgs import create_org
from gateway.realtime.broker.base import BrokerError
from gateway.realtime.broker.memory import MemoryBroker
from gateway.settings import Settings
from storage.errors import StorageError
from storage.sqlite import SQLiteStore
from tests.gateway.test_socket import socket
from tests.support import bearer


class DroppingBroker(MemoryBroker):
    """The in-process broker, failing every publish while ``dropping`` (a broker outage)."""

    dropping = False

    async def publish(self, channel: str, payload: bytes) -> None:
        if self.dropping:
            raise BrokerError("broker down")
        await super().publish(channel, payload)


def test_app_readyz_reports_an_unusable_store(tmp_path: Path) -> None:
    """/readyz answers 503 naming the store when the store cannot be used."""
    store = SQLiteStore(tmp_path / "db.sqlite")
    asyncio.run(store.start())
    settings = Settings(database_url="sqlite:///unused.db", secret_key="k" * 32)
    with TestClient(create_app(settings, store=store)) as client:
        assert client.get("/readyz").status_code == 200
        asyncio.run(store.aclose())
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"store": "unavailable", "broker": "ok"},
    }


def test_app_acknowledged_messages_survive_a_broker_outage(database_url: str) -> None:
    """A send while the broker fails is still stored and acknowledged; a subscriber that
    missed its event gets it by after_seq."""
    broker = DroppingBroker()
    settings = Settings(database_url=database_url, secret_key="k" * 32)
    with TestClient(create_app(settings, broker=broker)) as client:
        store = SQLiteStore(database_url.removeprefix("sqlite:///"))

        async def new_org() -> str:
            async with store:
                return (await create_org(store, "Acme")).api_key

        key = asyncio.run(new_org())
        cid = client.post("/v1/conversations", json={}, headers=bearer(key)).json()["id"]
        broker.dropping = True
        sent = client.post(
            f"/v1/conversations/{cid}/messages",
            json={"content": "kept", "role": "visitor"},
            headers=bearer(key),
        )
        assert sent.status_code == 201 and sent.json()["seq"] == 1
        broker.dropping = False
        token = client.post("/v1/tokens", json={"kind": "bot"}, headers=bearer(key)).json()
        with socket(client) as ws:
            ws.call("hello", token=token["token"])
            ws.call("subscribe", conversation_id=cid, after_seq=0)
            replayed = ws.event()
            assert replayed["seq"] == 1 and replayed["data"]["content"] == "kept"


class FailingStore(SQLiteStore):
    """A real SQLite store whose named methods fail like a database outage would."""

    failing: frozenset[str] = frozenset()

    def __getattribute__(self, name: str) -> object:
        if name in object.__getattribute__(self, "failing"):

            async def outage(*args: object, **kwargs: object) -> None:
                raise StorageError("connection refused")

            return outage
        return object.__getattribute__(self, name)


def test_app_storage_outage_outside_the_bus_is_503(tmp_path: Path) -> None:
    """API-key lookups and idempotency keys failing answer 503 unavailable, never 500."""
    store = FailingStore(tmp_path / "db.sqlite")

    async def prepare() -> str:
        await store.start()
        return (await create_org(store, "Acme")).api_key

    key = asyncio.run(prepare())
    # No API-key cache: every request looks its key up.
    settings = Settings(
        database_url="sqlite:///unused.db", secret_key="k" * 32, api_key_cache_seconds=0
    )
    with TestClient(create_app(settings, store=store)) as client:
        store.failing = frozenset({"claim_idempotency_key"})
        keyed = client.post(
            "/v1/conversations", json={}, headers={**bearer(key), "Idempotency-Key": "k"}
        )
        assert keyed.status_code == 503 and keyed.json()["error"]["code"] == "unavailable"
        store.failing = frozenset({"find_api_key"})
        lookup = client.get("/v1/conversations", headers=bearer(key))
        assert lookup.status_code == 503 and lookup.json()["error"]["code"] == "unavailable"
        store.failing = frozenset()
        assert client.get("/v1/conversations", headers=bearer(key)).status_code == 200
    asyncio.run(store.aclose())
