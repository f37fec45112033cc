"""The PostgreSQL store passes the shared store contract, on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import migrations
from storage.postgres import PostgresStore
from tests.contracts.bot_deliveries import BotDeliveryContract
from tests.contracts.claims import ClaimsContract
from tests.contracts.files import attach_before_upgrade, check_upgraded
from tests.contracts.outbox import OutboxContract
from tests.contracts.retention import RetentionContract
from tests.contracts.rows import add_conversation, add_org, plan_of, visitor_says
from tests.contracts.store import StoreContract

pytestmark = pytest.mark.postgres


class TestPostgresStore(
    StoreContract, OutboxContract, ClaimsContract, RetentionContract, BotDeliveryContract
):
    @pytest.fixture
    async def store(self, postgres_url: str) -> AsyncIterator[PostgresStore]:
        async with PostgresStore(postgres_url) as store:
            yield store


async def test_postgres_two_stores_share_seq_under_concurrency(postgres_url: str) -> None:
    """Two stores (two gateway processes) writing one conversation at once never reuse or
    skip a seq: the row lock serializes them."""
    async with PostgresStore(postgres_url) as first, PostgresStore(postgres_url) as second:
        org = await add_org(first)
        conversation = await add_conversation(first, org.id)
        writes = [
            store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{n}")))
            for n in range(40)
            for store in (first, second)
        ]
        applied = await asyncio.gather(*writes)
        seqs = sorted(a.messages[0].seq for a in applied)
        assert seqs == list(range(1, 81))
        assert await second.last_seq(conversation.id) == 80


async def test_postgres_migrations_run_once_across_concurrent_starts(postgres_url: str) -> None:
    """Several nodes starting at once migrate the schema exactly once."""
    stores = [PostgresStore(postgres_url) for _ in range(4)]
    await asyncio.gather(*(store.start() for store in stores))
    try:
        async with stores[0]._connection() as conn:
            versions = await conn.fetch("SELECT version FROM schema_migrations")
        expected = [m.version for m in migrations.load("postgres")]
        assert sorted(r["version"] for r in versions) == expected
    finally:
        for store in stores:
            await store.aclose()


async def test_postgres_upgrade_gives_attached_files_to_their_conversations(
    postgres_url: str,
) -> None:
    """A database from before conversation_files, once upgraded, lets a contact read the
    files their conversations' messages carry, and no other."""
    async with PostgresStore(postgres_url) as store:
        attached = await attach_before_upgrade(store)
        (version,) = [
            m.version for m in migrations.load("postgres") if m.name == "conversation_files"
        ]
        async with store._connection() as conn:
            await conn.execute("DROP TABLE conversation_files")
            await conn.execute("DELETE FROM schema_migrations WHERE version = $1", version)
    async with PostgresStore(postgres_url) as store:
        await check_upgraded(store, attached)
