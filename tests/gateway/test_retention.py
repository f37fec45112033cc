"""Retention: the sweep forgets finished deliveries, expired idempotency keys and dead node
leases in small batches that let writers through, on SQLite and PostgreSQL; the app runs it
from start-up."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

from gateway.app import create_app
from gateway.delivery.retention import Retention, RetentionPolicy, Swept
from gateway.settings import Settings
from storage.base import Store
from storage.models import Delivery, NodeLease, now
from storage.sqlite import SQLiteStore
from tests.contracts.claims import backlog
from tests.contracts.outbox import claim_all, outcome
from tests.contracts.rows import add_conversation, add_org, plan_of, visitor_says
from tests.support import live_server, timeout

MONTH = timedelta(days=30)
LONG_AGO = now() - timedelta(days=45)


async def finished_long_ago(store: Store, org_id: str, count: int) -> list[Delivery]:
    """``count`` deliveries of one endpoint, delivered 45 days ago."""
    await backlog(store, org_id, count)
    rows = await claim_all(store)
    for delivery in rows:
        await store.finish_delivery(delivery, outcome("delivered", delivery), LONG_AGO)
    return rows


def policy(batch: int) -> RetentionPolicy:
    return RetentionPolicy(deliveries=MONTH, idempotency_keys=timedelta(days=1), batch=batch)


async def test_retention_sweep_forgets_what_is_due_and_keeps_the_rest(store: Store) -> None:
    """One sweep, in batches of 10, purges 35 old deliveries, the expired keys and a node
    gone for days; a pending delivery, a fresh key and the live node stay."""
    org = await add_org(store)
    old = await finished_long_ago(store, org.id, 35)
    conversation = await add_conversation(store, org.id)
    await store.apply(org.id, conversation.id, plan_of(visitor_says("still pending")))
    day = timedelta(days=1)
    await store.claim_idempotency_key("s", "expired", "h", now() - 2 * day, day)
    await store.claim_idempotency_key("s", "fresh", "h", now(), day)
    killed = now() - 3 * day
    await store.register_node(node("killed", killed), killed)
    swept = await Retention(store, policy(10)).sweep()
    assert swept == Swept(deliveries=35, idempotency_keys=1, nodes=1)
    assert [await store.get_delivery(org.id, d.id) for d in old] == [None] * 35
    (pending,) = await claim_all(store)
    assert pending.status == "pending"
    assert await store.get_idempotency_key("s", "fresh") is not None
    others = await store.register_node(node("me", now()), killed - day)
    assert "killed" not in {n.id for n in others}
    assert await Retention(store, policy(10)).sweep() == Swept()


async def test_retention_sweep_lets_writers_through(store: Store) -> None:
    """Messages written while a sweep of 300 old deliveries runs (batches of 5) are stored
    before the sweep ends: no batch holds writers back for long."""
    org = await add_org(store)
    await finished_long_ago(store, org.id, 300)
    conversation = await add_conversation(store, org.id)
    finished: list[str] = []

    async def sweep() -> None:
        await Retention(store, policy(5)).sweep()
        finished.append("sweep")

    async def write() -> None:
        for i in range(5):
            await store.apply(org.id, conversation.id, plan_of(visitor_says(f"w{i}")))
        finished.append("writes")

    await asyncio.gather(sweep(), write())
    assert finished == ["writes", "sweep"]
    assert await store.last_seq(conversation.id) == 5


async def test_retention_runs_from_start_up(tmp_path: Path) -> None:
    """An app started on a database with deliveries that finished 45 days ago has forgotten
    them shortly after start-up (30 days by default)."""
    database = tmp_path / "chatgate.db"
    async with SQLiteStore(database) as store:
        org = await add_org(store)
        old = await finished_long_ago(store, org.id, 3)
    settings = Settings(
        database_url=f"sqlite:///{database}", secret_key="test-secret-key-of-decent-length!"
    )
    with live_server(create_app(settings)):
        async with SQLiteStore(database) as store:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout(10)
            while [await store.get_delivery(org.id, d.id) for d in old] != [None] * 3:
                assert loop.time() < deadline, "old deliveries are still there"
                await asyncio.sleep(0.05)


def node(name: str, seen_at: datetime) -> NodeLease:
    return NodeLease(id=name, host="h", pid=1, broker="redis", started_at=seen_at, seen_at=seen_at)
