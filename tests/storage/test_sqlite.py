"""The SQLite store: the shared contract, plus what only a file-backed store does."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage import migrations
from storage.errors import MigrationError, StorageError
from storage.models import now
from storage.sqlite import SQLiteStore
from tests.contracts.bot_deliveries import BotDeliveryContract
from tests.contracts.claims import ClaimsContract
from tests.contracts.files import attach_before_upgrade, check_upgraded
from tests.contracts.outbox import OutboxContract
from tests.contracts.retention import RetentionContract
from tests.contracts.rows import (
    add_conversation,
    add_org,
    org_row,
    plan_of,
    visitor_says,
    widget_row,
)
from tests.contracts.store import StoreContract


class TestSQLiteStore(
    StoreContract, OutboxContract, ClaimsContract, RetentionContract, BotDeliveryContract
):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "store.db")
        await store.start()
        try:
            yield store
        finally:
            await store.aclose()


def applied_versions(path: Path) -> list[int]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    conn.close()
    return [version for (version,) in rows]


async def test_sqlite_second_start_keeps_data_and_migrates_once(tmp_path: Path) -> None:
    """Starting a new store on an existing file applies no migration again and keeps rows."""
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        org = await add_org(store)
        conversation = await add_conversation(store, org.id)
        await store.apply(org.id, conversation.id, plan_of(visitor_says("kept")))
    expected = [m.version for m in migrations.load("sqlite")]
    assert applied_versions(path) == expected
    async with SQLiteStore(path) as store:
        assert await store.count_orgs() == 1
        (message,) = await store.list_messages(conversation.id, 0, 10)
        assert message.content == "kept"
    assert applied_versions(path) == expected


async def test_sqlite_upgrade_gives_attached_files_to_their_conversations(
    tmp_path: Path,
) -> None:
    """A database from before conversation_files, once upgraded, lets a contact read the
    files their conversations' messages carry, and no other."""
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as store:
        attached = await attach_before_upgrade(store)
    (version,) = [m.version for m in migrations.load("sqlite") if m.name == "conversation_files"]
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE conversation_files")
        conn.execute("DELETE FROM schema_migrations WHERE version = ?", (version,))
    conn.close()
    async with SQLiteStore(path) as store:
        await check_upgraded(store, attached)
    assert version in applied_versions(path)


async def test_sqlite_start_creates_missing_directories(tmp_path: Path) -> None:
    """start creates the database file's parent directories."""
    path = tmp_path / "a" / "b" / "store.db"
    async with SQLiteStore(path) as store:
        await store.ping()
    assert path.is_file()


def test_sqlite_rejects_an_in_memory_database() -> None:
    """ ":memory:" is refused: readers and the writer must share one file."""
    with pytest.raises(ValueError, match="file"):
        SQLiteStore(":memory:")


def test_sqlite_rejects_an_unknown_synchronous_mode(tmp_path: Path) -> None:
    """synchronous must be one of SQLite's modes (any case)."""
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(tmp_path / "store.db", synchronous="SOMETIMES")
    SQLiteStore(tmp_path / "store.db", synchronous="normal")


async def test_sqlite_lowercase_synchronous_mode_works(tmp_path: Path) -> None:
    """A store opened with synchronous="off" stores and reads rows."""
    async with SQLiteStore(tmp_path / "store.db", synchronous="off") as store:
        await add_org(store)
        assert await store.count_orgs() == 1


async def test_sqlite_methods_before_start_raise_runtime_error(tmp_path: Path) -> None:
    """Reads and writes on a store that was never started raise RuntimeError."""
    store = SQLiteStore(tmp_path / "store.db")
    with pytest.raises(RuntimeError, match="not started"):
        await store.ping()
    with pytest.raises(RuntimeError, match="not started"):
        await store.create_org(org_row())
    with pytest.raises(RuntimeError, match="not started"):
        await store.apply("o", "c", plan_of(visitor_says()))
    assert not (tmp_path / "store.db").exists()


async def test_sqlite_methods_after_close_raise_runtime_error(tmp_path: Path) -> None:
    """Once closed, the store refuses reads and writes with RuntimeError."""
    store = SQLiteStore(tmp_path / "store.db")
    await store.start()
    await store.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await store.count_orgs()
    with pytest.raises(RuntimeError, match="closed"):
        await store.get_or_create_setting("a", "b")


async def test_sqlite_start_twice_raises_runtime_error(tmp_path: Path) -> None:
    """A second start on a started store raises RuntimeError and leaves it usable."""
    async with SQLiteStore(tmp_path / "store.db") as store:
        with pytest.raises(RuntimeError, match="twice"):
            await store.start()
        await store.ping()


async def test_sqlite_aclose_is_idempotent(tmp_path: Path) -> None:
    """aclose may be called before start and any number of times after."""
    store = SQLiteStore(tmp_path / "store.db")
    await store.aclose()
    await store.start()
    await store.count_orgs()
    await store.aclose()
    await store.aclose()


async def test_sqlite_backend_failure_is_storage_error(tmp_path: Path) -> None:
    """A failing statement (a duplicate id) raises StorageError and leaves nothing behind."""
    async with SQLiteStore(tmp_path / "store.db") as store:
        org = await add_org(store)
        with pytest.raises(StorageError, match="sqlite"):
            await store.create_org(org_row(id=org.id, name="Duplicate"))
        assert await store.count_orgs() == 1
        await store.ping()


async def test_sqlite_conflicting_schema_raises_migration_error(tmp_path: Path) -> None:
    """A file whose tables clash with the schema fails start with MigrationError."""
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orgs (something_else TEXT)")
    conn.close()
    store = SQLiteStore(path)
    try:
        with pytest.raises(MigrationError, match="migration 1"):
            await store.start()
    finally:
        await store.aclose()
    assert applied_versions(path) == []


async def test_sqlite_update_widget_refuses_unknown_fields(tmp_path: Path) -> None:
    """update_widget raises RuntimeError for a field it cannot change, and changes nothing."""
    async with SQLiteStore(tmp_path / "store.db") as store:
        org = await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        with pytest.raises(RuntimeError, match="org_id"):
            await store.update_widget(org.id, widget.id, {"name": "X", "org_id": "other"})
        assert await store.update_widget(org.id, widget.id, {}) == widget


async def test_sqlite_two_stores_on_one_file_share_one_sequence(tmp_path: Path) -> None:
    """Two stores (as two processes would) writing one conversation never reuse a seq."""
    path = tmp_path / "store.db"
    async with SQLiteStore(path) as first, SQLiteStore(path) as second:
        org = await add_org(first)
        conversation = await add_conversation(first, org.id)
        results = await asyncio.gather(
            *(
                store.apply(org.id, conversation.id, plan_of(visitor_says(f"m{i}")))
                for i in range(20)
                for store in (first, second)
            )
        )
        assert sorted(r.messages[0].seq for r in results) == list(range(1, 41))
        assert await second.last_seq(conversation.id) == 40
        assert await first.mark_read(conversation.id, "r", 40, now()) == 40


def test_sqlite_split_statements_keeps_an_unterminated_tail() -> None:
    """split_statements returns each complete statement and a trailing one without ';'."""
    script = "-- a comment\nCREATE TABLE a (x);\n\nINSERT INTO a\nVALUES (1);\nSELECT 1"
    assert migrations.split_statements(script) == [
        "-- a comment\nCREATE TABLE a (x);",
        "INSERT INTO a\nVALUES (1);",
        "SELECT 1",
    ]
