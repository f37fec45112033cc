"""The ``Store`` contract: one suite every storage backend must pass.

Subclass ``StoreContract`` as ``Test<Backend>Store`` and provide an async fixture named
``store`` that yields a started, empty store. Only behaviour promised by ``storage.base.Store``
is tested here, never a backend's internals.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from datetime import timedelta
from typing import Any

from storage.base import Store
from storage.models import (
    NodeLease,
    StoredFile,
    now,
)
from tests.contracts.accounts import AccountContract
from tests.contracts.agents import AgentContract
from tests.contracts.apply import ApplyContract
from tests.contracts.bots import BotContract
from tests.contracts.concurrent_apply import ConcurrentApplyContract
from tests.contracts.conversations import ConversationContract
from tests.contracts.files import FileContract
from tests.contracts.knowledge import KnowledgeContract
from tests.contracts.rows import (
    add_org,
    agent_row,
    api_key_row,
    contact_row,
    new_id,
    widget_row,
)
from tests.contracts.search import SearchContract

__all__ = ["StoreContract"]

TTL = timedelta(hours=1)


class StoreContract(
    ConversationContract,
    ApplyContract,
    ConcurrentApplyContract,
    FileContract,
    AgentContract,
    AccountContract,
    BotContract,
    KnowledgeContract,
    SearchContract,
):
    """Tests every ``Store`` must pass; subclasses provide the ``store`` fixture.

    Conversations, ``apply`` (alone and concurrent), which conversations a file belongs to,
    agents, accounts, bots, the knowledge base and conversation search have suites of their
    own (``conversations``, ``apply``, ``concurrent_apply``, ``files``, ``agents``,
    ``accounts``, ``bots``, ``knowledge``, ``search``), included here.
    """

    # -- lifecycle ------------------------------------------------------------------------

    async def test_store_ping_succeeds_when_started(self, store: Store) -> None:
        """ping returns quietly on a started store."""
        await store.ping()

    # -- gateway nodes --------------------------------------------------------------------

    async def test_register_node_returns_the_other_live_nodes(self, store: Store) -> None:
        """A registering node sees the others seen recently, not itself, not stale ones."""
        at = now()
        old = NodeLease("old", "h1", 1, "memory", at, at - timedelta(minutes=5))
        await store.register_node(old, at - timedelta(hours=1))
        first = NodeLease("a", "h1", 2, "redis", at, at)
        assert await store.register_node(first, at - timedelta(seconds=15)) == []
        second = NodeLease("b", "h2", 3, "redis", at, at)
        others = await store.register_node(second, at - timedelta(seconds=15))
        assert [n.id for n in others] == ["a"] and others[0].host == "h1"
        await store.heartbeat_node("old", at)
        again = await store.register_node(second, at - timedelta(seconds=15))
        assert sorted(n.id for n in again) == ["a", "old"]
        await store.remove_node("a")
        await store.remove_node("old")
        assert await store.register_node(second, at - timedelta(seconds=15)) == []

    async def test_register_node_is_atomic(self, store: Store) -> None:
        """Of nodes registering at the same time, every one but the first sees another."""
        at = now()
        nodes = [NodeLease(f"n{i}", "h", i, "memory", at, at) for i in range(8)]
        seen = await asyncio.gather(
            *(store.register_node(n, at - timedelta(seconds=15)) for n in nodes)
        )
        assert sorted(len(s) for s in seen) == list(range(8))

    # -- settings -------------------------------------------------------------------------

    async def test_setting_keeps_first_value(self, store: Store) -> None:
        """get_or_create_setting stores the first value and returns it on every later call."""
        assert await store.get_or_create_setting("secret", "first") == "first"
        assert await store.get_or_create_setting("secret", "second") == "first"
        assert await store.get_or_create_setting("other", "x") == "x"

    async def test_setting_concurrent_creators_agree(self, store: Store) -> None:
        """20 concurrent get_or_create_setting calls with different values all get one value."""
        values = await asyncio.gather(
            *(store.get_or_create_setting("secret", f"value-{i}") for i in range(20))
        )
        assert len(set(values)) == 1
        assert values[0] in {f"value-{i}" for i in range(20)}
        assert await store.get_or_create_setting("secret", "late") == values[0]

    # -- orgs and api keys ----------------------------------------------------------------

    async def test_org_count_counts_created_orgs(self, store: Store) -> None:
        """count_orgs is 0 on an empty store and grows with create_org."""
        assert await store.count_orgs() == 0
        await add_org(store)
        await add_org(store, name="Globex", monthly_message_limit=1000)
        assert await store.count_orgs() == 2

    async def test_org_list_holds_every_org_oldest_first(self, store: Store) -> None:
        """list_orgs is empty on an empty store, then returns every org, oldest first."""
        assert await store.list_orgs() == []
        first = await add_org(store, created_at=now() - timedelta(minutes=1))
        second = await add_org(store, name="Globex", monthly_message_limit=1000)
        assert await store.list_orgs() == [first, second]

    async def test_api_key_is_found_by_hash_until_revoked(self, store: Store) -> None:
        """find_api_key returns the key for its hash, and None once it is revoked."""
        org = await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        assert await store.find_api_key("hash-1") == key
        assert await store.find_api_key("hash-2") is None
        await store.revoke_api_key(org.id, key.id, now())
        assert await store.find_api_key("hash-1") is None

    async def test_api_key_revoke_is_idempotent(self, store: Store) -> None:
        """Revoking twice returns the key both times, with the first revocation time."""
        org = await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        first_at = now()
        revoked = await store.revoke_api_key(org.id, key.id, first_at)
        assert revoked == dataclasses.replace(key, revoked_at=first_at)
        again = await store.revoke_api_key(org.id, key.id, first_at + timedelta(minutes=5))
        assert again == revoked
        assert await store.list_api_keys(org.id) == [revoked]

    async def test_api_key_revoke_of_another_org_is_none(self, store: Store) -> None:
        """Another org cannot revoke a key: None, as for an unknown id, and the key still works."""
        org, other = await add_org(store), await add_org(store)
        key = api_key_row(org.id)
        await store.create_api_key(key, "hash-1")
        assert await store.revoke_api_key(other.id, key.id, now()) is None
        assert await store.revoke_api_key(org.id, new_id(), now()) is None
        assert await store.find_api_key("hash-1") == key

    async def test_api_key_list_holds_the_orgs_keys_only(self, store: Store) -> None:
        """list_api_keys returns every key of the org, revoked ones included, and no other."""
        org, other = await add_org(store), await add_org(store)
        keys = [api_key_row(org.id, name=f"k{i}") for i in range(3)]
        for i, key in enumerate(keys):
            await store.create_api_key(key, f"hash-{i}")
        await store.create_api_key(api_key_row(other.id), "hash-other")
        revoked = await store.revoke_api_key(org.id, keys[0].id, now())
        assert revoked is not None
        listed = await store.list_api_keys(org.id)
        assert sorted(listed, key=lambda k: k.id) == sorted(
            [revoked, keys[1], keys[2]], key=lambda k: k.id
        )
        assert await store.list_api_keys(new_id()) == []

    # -- widgets, agents, contacts --------------------------------------------------------

    async def test_widget_round_trips(self, store: Store) -> None:
        """A created widget reads back equal, with its org or without one (any org)."""
        org = await add_org(store)
        widget = widget_row(
            org.id,
            allowed_origins=("https://a.example", "https://b.example"),
            messages_per_minute=30,
            live_agent_endpoint_url="https://live.example/hook",
            bot_settings={"greeting": "Hi!", "model": {"name": "small", "temperature": 0.2}},
        )
        await store.create_widget(widget)
        assert await store.get_widget(org.id, widget.id) == widget
        assert await store.get_widget(None, widget.id) == widget
        assert await store.get_widget(None, new_id()) is None
        assert await store.list_widgets(org.id) == [widget]

    async def test_widget_of_another_org_is_invisible(self, store: Store) -> None:
        """Another org's widget is None / empty / unchanged, exactly like an unknown id."""
        org, other = await add_org(store), await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        assert await store.get_widget(other.id, widget.id) is None
        assert await store.get_widget(org.id, new_id()) is None
        assert await store.list_widgets(other.id) == []
        assert await store.update_widget(other.id, widget.id, {"name": "Hijacked"}) is None
        assert await store.update_widget(org.id, new_id(), {"name": "Ghost"}) is None
        assert await store.get_widget(org.id, widget.id) == widget

    async def test_widget_update_changes_given_fields_only(self, store: Store) -> None:
        """update_widget returns the widget with the given fields changed and stores it."""
        org = await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        updates: dict[str, Any] = {
            "name": "Sales",
            "allowed_origins": ("https://sales.example",),
            "messages_per_minute": 5,
            "live_agent_endpoint_url": "https://live.example",
            "bot_settings": {"greeting": "Hello"},
        }
        updated = await store.update_widget(org.id, widget.id, updates)
        assert updated == dataclasses.replace(widget, **updates)
        assert await store.get_widget(org.id, widget.id) == updated
        assert await store.update_widget(org.id, widget.id, {"name": "Again"}) == (
            dataclasses.replace(updated, name="Again")
        )

    async def test_widget_look_and_identity_flag_round_trip(self, store: Store) -> None:
        """A widget's appearance and identity_required read back as created and as updated."""
        org = await add_org(store)
        widget = widget_row(
            org.id, appearance={"color": "#0a7f5c", "language": "fr", "title": "Aide"}
        )
        await store.create_widget(widget)
        assert await store.get_widget(org.id, widget.id) == widget
        updates: dict[str, Any] = {"appearance": {"position": "left"}, "identity_required": True}
        updated = await store.update_widget(org.id, widget.id, updates)
        assert updated == dataclasses.replace(widget, **updates)
        assert await store.list_widgets(org.id) == [updated]

    async def test_widget_identity_secret_is_read_apart(self, store: Store) -> None:
        """The identity secret is set with update_widget and read only by its own method:
        widgets say whether there is one, never what it is; another org reads None."""
        org, other = await add_org(store), await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        assert await store.get_widget_identity_secret(org.id, widget.id) is None
        assert widget.identity_secret_set is False
        updated = await store.update_widget(org.id, widget.id, {"identity_secret": "s" * 40})
        assert updated == dataclasses.replace(widget, identity_secret_set=True)
        assert await store.get_widget(None, widget.id) == updated
        assert await store.get_widget_identity_secret(org.id, widget.id) == "s" * 40
        assert await store.get_widget_identity_secret(other.id, widget.id) is None
        assert await store.get_widget_identity_secret(org.id, new_id()) is None
        await store.update_widget(org.id, widget.id, {"identity_secret": "t" * 40})
        assert await store.get_widget_identity_secret(org.id, widget.id) == "t" * 40

    async def test_agent_of_another_org_is_invisible(self, store: Store) -> None:
        """get_agent/list_agents find an org's agents and nothing from another org."""
        org, other = await add_org(store), await add_org(store)
        agents = [agent_row(org.id, name=f"Agent {i}") for i in range(2)]
        for agent in agents:
            await store.create_agent(agent)
        await store.create_agent(agent_row(other.id, email=None))
        assert await store.get_agent(org.id, agents[0].id) == agents[0]
        assert await store.get_agent(other.id, agents[0].id) is None
        assert await store.get_agent(org.id, new_id()) is None
        assert sorted(await store.list_agents(org.id), key=lambda a: a.id) == sorted(
            agents, key=lambda a: a.id
        )
        assert len(await store.list_agents(other.id)) == 1
        assert await store.list_agents(new_id()) == []

    async def test_contact_round_trips(self, store: Store) -> None:
        """A new contact is stored as given and readable in its org only."""
        org, other = await add_org(store), await add_org(store)
        widget = widget_row(org.id)
        await store.create_widget(widget)
        contact = contact_row(
            org.id,
            widget_id=widget.id,
            external_id="crm-42",
            email="vera@example.com",
            metadata={"plan": "pro", "tags": ["vip"], "visits": 3},
        )
        assert await store.get_or_create_contact(contact) == contact
        assert await store.get_contact(org.id, contact.id) == contact
        assert await store.get_contact(other.id, contact.id) is None
        assert await store.get_contact(org.id, new_id()) is None

    async def test_contact_with_known_external_id_returns_existing(self, store: Store) -> None:
        """get_or_create_contact with an external_id known in the org returns that contact."""
        org = await add_org(store)
        first = await store.get_or_create_contact(contact_row(org.id, external_id="crm-1"))
        second = await store.get_or_create_contact(
            contact_row(org.id, external_id="crm-1", name="Someone else")
        )
        assert second == first
        assert await store.get_contact(org.id, first.id) == first

    async def test_contact_external_id_is_per_org(self, store: Store) -> None:
        """The same external_id in another org creates a distinct contact there."""
        org, other = await add_org(store), await add_org(store)
        mine = await store.get_or_create_contact(contact_row(org.id, external_id="crm-1"))
        theirs_row = contact_row(other.id, external_id="crm-1")
        theirs = await store.get_or_create_contact(theirs_row)
        assert theirs == theirs_row
        assert theirs.id != mine.id
        assert await store.get_contact(other.id, theirs.id) == theirs

    async def test_contact_without_external_id_is_always_new(self, store: Store) -> None:
        """Contacts without external_id are never merged, even with identical fields."""
        org = await add_org(store)
        rows = [contact_row(org.id, name="Anon") for _ in range(3)]
        stored = [await store.get_or_create_contact(row) for row in rows]
        assert stored == rows
        for row in rows:
            assert await store.get_contact(org.id, row.id) == row

    # -- files ----------------------------------------------------------------------------

    async def test_put_file_stores_each_content_once_per_org(self, store: Store) -> None:
        """The same bytes stored twice keep the first copy; another org has its own."""
        org, other = await add_org(store), await add_org(store)
        data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        sha = hashlib.sha256(data).hexdigest()
        first = await store.put_file(StoredFile(org.id, sha, "image/png", len(data), now()), data)
        again = await store.put_file(
            StoredFile(org.id, sha, "image/png", len(data), now() + timedelta(seconds=5)), data
        )
        assert again == first and first.size == len(data) and first.sha256 == sha
        assert await store.get_file(org.id, sha) == first
        read = await store.read_file(org.id, sha)
        assert read == (first, data)
        assert await store.get_file(other.id, sha) is None
        assert await store.read_file(other.id, sha) is None
        theirs = await store.put_file(
            StoredFile(other.id, sha, "image/png", len(data), now()), data
        )
        assert theirs.org_id == other.id
        assert await store.get_org(org.id) is not None
        assert await store.get_org(new_id()) is None

    # -- idempotency ----------------------------------------------------------------------

    async def test_idempotency_claim_is_free_once_then_running(self, store: Store) -> None:
        """The first claim owns the key (None); the next sees the running record."""
        at = now()
        assert await store.claim_idempotency_key("s", "k", "h1", at, TTL) is None
        record = await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        assert record is not None
        assert (record.request_hash, record.status, record.created_at) == ("h1", None, at)
        assert await store.get_idempotency_key("s", "k") == record

    async def test_idempotency_finished_record_replays_response(self, store: Store) -> None:
        """After finish, a claim returns the stored status, headers and body."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        headers = {"content-type": "application/json", "location": "/v1/x"}
        body = b'{"id": "x"}\x00\xff'
        await store.finish_idempotency_key("s", "k", 201, headers, body)
        record = await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        assert record is not None
        assert (record.status, dict(record.headers), record.body) == (201, headers, body)
        assert record.request_hash == "h1"
        assert await store.get_idempotency_key("s", "k") == record

    async def test_idempotency_other_request_hash_is_visible(self, store: Store) -> None:
        """A claim with another request hash gets the record with the first hash."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        record = await store.claim_idempotency_key("s", "k", "h2", at, TTL)
        assert record is not None
        assert record.request_hash == "h1"

    async def test_idempotency_keys_are_scoped(self, store: Store) -> None:
        """The same key in another scope is a different key."""
        at = now()
        assert await store.claim_idempotency_key("s1", "k", "h1", at, TTL) is None
        assert await store.claim_idempotency_key("s2", "k", "h1", at, TTL) is None
        assert await store.claim_idempotency_key("s1", "k2", "h1", at, TTL) is None

    async def test_idempotency_release_frees_the_key(self, store: Store) -> None:
        """After release the key is unknown and the next claim owns it again."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at, TTL)
        await store.release_idempotency_key("s", "k")
        assert await store.get_idempotency_key("s", "k") is None
        assert await store.claim_idempotency_key("s", "k", "h2", at, TTL) is None
        record = await store.get_idempotency_key("s", "k")
        assert record is not None and record.request_hash == "h2"

    async def test_idempotency_expired_record_is_reclaimed(self, store: Store) -> None:
        """A record older than ttl is replaced: the claim owns the key again."""
        old = now() - timedelta(hours=2)
        await store.claim_idempotency_key("s", "k", "h1", old, TTL)
        await store.finish_idempotency_key("s", "k", 200, {}, b"old")
        at = now()
        assert await store.claim_idempotency_key("s", "k", "h2", at, TTL) is None
        record = await store.get_idempotency_key("s", "k")
        assert record is not None
        assert (record.request_hash, record.status, record.created_at) == ("h2", None, at)

    async def test_idempotency_fresh_record_is_not_reclaimed(self, store: Store) -> None:
        """A record younger than ttl is returned, not replaced."""
        at = now()
        await store.claim_idempotency_key("s", "k", "h1", at - timedelta(minutes=59), TTL)
        record = await store.claim_idempotency_key("s", "k", "h2", at, TTL)
        assert record is not None and record.request_hash == "h1"

    async def test_idempotency_concurrent_claims_have_one_owner(self, store: Store) -> None:
        """Of 20 concurrent claims of one key, exactly one owns it."""
        at = now()
        results = await asyncio.gather(
            *(store.claim_idempotency_key("s", "k", f"h{i}", at, TTL) for i in range(20))
        )
        assert sum(r is None for r in results) == 1
        assert len({r.request_hash for r in results if r is not None}) == 1

    async def test_idempotency_purge_deletes_older_records_only(self, store: Store) -> None:
        """purge removes records created before the cutoff and returns how many."""
        at = now()
        await store.claim_idempotency_key("s", "old-1", "h", at - timedelta(hours=3), TTL)
        await store.claim_idempotency_key("s", "old-2", "h", at - timedelta(hours=2), TTL)
        await store.finish_idempotency_key("s", "old-2", 200, {}, b"")
        await store.claim_idempotency_key("s", "new", "h", at, TTL)
        assert await store.purge_idempotency_keys(at - timedelta(hours=1)) == 2
        assert await store.get_idempotency_key("s", "old-1") is None
        assert await store.get_idempotency_key("s", "old-2") is None
        assert await store.get_idempotency_key("s", "new") is not None
        assert await store.purge_idempotency_keys(at - timedelta(hours=1)) == 0

    async def test_idempotency_unknown_key_is_none(self, store: Store) -> None:
        """get_idempotency_key of a never claimed key is None."""
        assert await store.get_idempotency_key("s", "nope") is None
