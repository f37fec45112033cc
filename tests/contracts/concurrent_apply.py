"""The ``Store`` contract, ``apply`` under concurrency: sends made at once (which a store may
commit together, as both stores do) each keep their own gap-free seq and their own failure.

Mixed into ``StoreContract``; the backend's test class provides the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from protocol.events import ConversationUpdated
from protocol.states import Status
from storage.base import Store
from storage.errors import StorageError
from storage.models import Conversation, ConversationChange
from tests.contracts.rows import add_conversation, add_org, plan_of, refuse, visitor_says

__all__ = ["ConcurrentApplyContract"]


async def _outcomes(*calls: Any) -> list[Any]:
    """Await ``calls`` at once; each one's result or exception, in order."""
    return await asyncio.gather(*calls, return_exceptions=True)


async def _seqs(store: Store, conversation: Conversation) -> list[int]:
    return [m.seq for m in await store.list_messages(conversation.id, 0, 1000)]


class ConcurrentApplyContract:
    """Concurrent ``Store.apply`` calls."""

    @pytest.mark.parametrize(("conversations", "each"), [(3, 40), (60, 2)])
    async def test_apply_concurrent_sends_take_gap_free_seqs(
        self, store: Store, conversations: int, each: int
    ) -> None:
        """Many sends at once, to a few conversations or to many: each conversation's sends
        take seqs 1..n, each once, as returned and as stored."""
        org = await add_org(store)
        targets = [await add_conversation(store, org.id) for _ in range(conversations)]
        sends = [(c, f"{c.id}:{n}") for n in range(each) for c in targets]
        applied = await asyncio.gather(
            *(store.apply(org.id, c.id, plan_of(visitor_says(text))) for c, text in sends)
        )
        for conversation in targets:
            mine = [a.messages[0] for a in applied if a.conversation.id == conversation.id]
            assert sorted(m.seq for m in mine) == list(range(1, each + 1))
            assert await _seqs(store, conversation) == list(range(1, each + 1))
            assert await store.last_seq(conversation.id) == each
        stored = {m.content for c in targets for m in await store.list_messages(c.id, 0, 1000)}
        assert stored == {text for _, text in sends}

    async def test_apply_refused_send_fails_alone_among_concurrent_ones(self, store: Store) -> None:
        """A send that ``decide`` refuses, made at once with others to its conversation and
        another, fails with its error; every other send is stored, seqs without a gap."""
        org = await add_org(store)
        one, two = await add_conversation(store, org.id), await add_conversation(store, org.id)
        refusal = GatewayError(ErrorCode.INVALID_STATE, "no")
        calls = [store.apply(org.id, c.id, plan_of(visitor_says())) for c in (one, two) * 3]
        calls.insert(3, store.apply(org.id, one.id, refuse(refusal)))
        calls.append(
            store.apply(org.id, one.id, plan_of(ConversationChange({"status": Status.OPEN})))
        )
        outcomes = await _outcomes(*calls)
        assert outcomes.pop(3) is refusal
        assert not [o for o in outcomes if isinstance(o, BaseException)]
        events = await store.read_events(one.id, 0, 10)
        assert [e.seq for e in events] == [1, 2, 3, 4]
        assert sum(isinstance(e, ConversationUpdated) for e in events) == 1
        assert await store.last_seq(one.id) == 4
        assert await _seqs(store, two) == [1, 2, 3]

    async def test_apply_send_whose_write_fails_fails_alone(self, store: Store) -> None:
        """A send the database refuses (a message id already stored), made at once with
        others to its conversation and another, raises StorageError and stores nothing; every
        other send is stored, seqs without a gap."""
        org = await add_org(store)
        one, two = await add_conversation(store, org.id), await add_conversation(store, org.id)
        first = await store.apply(org.id, one.id, plan_of(visitor_says("first")))
        again = visitor_says("same id", id=first.messages[0].id)
        calls = [store.apply(org.id, c.id, plan_of(visitor_says())) for c in (one, two) * 4]
        calls.insert(3, store.apply(org.id, one.id, plan_of(again)))
        outcomes = await _outcomes(*calls)
        assert isinstance(outcomes.pop(3), StorageError)
        assert not [o for o in outcomes if isinstance(o, BaseException)]
        assert await _seqs(store, one) == [1, 2, 3, 4, 5]
        assert await _seqs(store, two) == [1, 2, 3, 4]
        assert "same id" not in {m.content for m in await store.list_messages(one.id, 0, 10)}
        assert (await store.apply(org.id, one.id, plan_of(visitor_says()))).messages[0].seq == 6
