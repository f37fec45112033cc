"""The PostgreSQL store passes the shared store contract, on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import migrations
from storage.errors import StorageError
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


async def test_postgres_two_stores_lock_many_conversations_in_one_order(postgres_url: str) -> None:
    """Two stores sending at once to the same conversations, in opposite orders, commit every
    send with gap-free seqs: their batches lock conversations in one order, so neither waits
    for the other in a circle."""
    async with PostgresStore(postgres_url) as first, PostgresStore(postgres_url) as second:
        org = await add_org(first)
        conversations = [await add_conversation(first, org.id) for _ in range(6)]
        writes = [
            store.apply(org.id, c.id, plan_of(visitor_says(f"m{n}")))
            for n in range(15)
            for store, order in ((first, conversations), (second, conversations[::-1]))
            for c in order
        ]
        await asyncio.gather(*writes)
        for conversation in conversations:
            stored = await first.list_messages(conversation.id, 0, 100)
            assert [m.seq for m in stored] == list(range(1, 31))


async def test_postgres_concurrent_applies_share_one_transaction(postgres_url: str) -> None:
    """Sends made at once, several to each of several conversations, are committed by one
    transaction (group commit): every row they stored carries one xmin."""
    async with PostgresStore(postgres_url) as store:
        org = await add_org(store)
        conversations = [await add_conversation(store, org.id) for _ in range(10)]
        await asyncio.gather(
            *(
                store.apply(org.id, c.id, plan_of(visitor_says(f"m{n}")))
                for n in range(3)
                for c in conversations
            )
        )
        async with store._connection() as conn:
            xmins = await conn.fetchval(
                "SELECT count(DISTINCT xmin::text) FROM messages"
                " WHERE conversation_id = ANY($1::uuid[])",
                [c.id for c in conversations],
            )
        assert xmins == 1


async def test_postgres_a_failed_write_is_undone_alone_in_its_batch(postgres_url: str) -> None:
    """A send whose write the database refuses, in one batch with others: that batch alone
    settles every send of it, the refused one with StorageError, the others stored."""
    async with PostgresStore(postgres_url) as store:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        first = await store.apply(org.id, conversation.id, plan_of(visitor_says()))
        duplicate = plan_of(visitor_says("again", id=first.messages[0].id))
        applies = store._applies
        assert applies is not None
        before = applies.batches
        outcomes = await asyncio.gather(
            *(store.apply(org.id, conversation.id, plan_of(visitor_says())) for _ in range(5)),
            store.apply(org.id, conversation.id, duplicate),
            return_exceptions=True,
        )
        assert applies.batches == before + 1
        assert isinstance(outcomes.pop(), StorageError)
        assert sorted(o.messages[0].seq for o in outcomes) == [2, 3, 4, 5, 6]


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
