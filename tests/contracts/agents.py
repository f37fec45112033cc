"""The ``Store`` contract for agents (disabled, deleted) and where credentials stand.

Included in ``StoreContract``; the ``store`` fixture is the backend's.
"""

from __future__ import annotations

import dataclasses

from protocol.states import Role
from storage.base import Store
from storage.models import NewMessage, now
from tests.contracts.rows import (
    add_conversation,
    add_org,
    agent_row,
    api_key_row,
    new_id,
    plan_of,
)

__all__ = ["AgentContract"]


class AgentContract:
    async def test_agent_update_changes_given_fields_only(self, store: Store) -> None:
        """update_agent returns the agent with the given fields changed, and stores it."""
        org = await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        assert agent.status == "active"
        disabled = await store.update_agent(org.id, agent.id, {"status": "disabled"})
        assert disabled == dataclasses.replace(agent, status="disabled")
        assert await store.get_agent(org.id, agent.id) == disabled
        assert await store.list_agents(org.id) == [disabled]
        renamed = await store.update_agent(org.id, agent.id, {"name": "Grace", "email": None})
        assert renamed == dataclasses.replace(disabled, name="Grace", email=None)
        assert await store.update_agent(org.id, agent.id, {}) == renamed

    async def test_agent_update_of_another_org_is_none(self, store: Store) -> None:
        """Another org cannot change an agent: None, as for an unknown id, and nothing changes."""
        org, other = await add_org(store), await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        assert await store.update_agent(other.id, agent.id, {"status": "disabled"}) is None
        assert await store.update_agent(org.id, new_id(), {"status": "disabled"}) is None
        assert await store.get_agent(org.id, agent.id) == agent

    async def test_agent_delete_hides_it_and_keeps_its_messages(self, store: Store) -> None:
        """A deleted agent is gone from get, list and update; its messages keep their sender."""
        org = await add_org(store)
        agent, kept = agent_row(org.id), agent_row(org.id, name="Kept")
        await store.create_agent(agent)
        await store.create_agent(kept)
        conversation = await add_conversation(store, org.id)
        said = NewMessage(role=Role.AGENT, sender_id=agent.id, content="Hi, Ada here")
        await store.apply(org.id, conversation.id, plan_of(said))
        assert await store.delete_agent(org.id, agent.id, now()) is True
        assert await store.get_agent(org.id, agent.id) is None
        assert await store.list_agents(org.id) == [kept]
        assert await store.update_agent(org.id, agent.id, {"status": "active"}) is None
        assert await store.delete_agent(org.id, agent.id, now()) is False
        (message,) = await store.list_messages(conversation.id, 0, 10)
        assert message.sender_id == agent.id

    async def test_agent_delete_of_another_org_is_false(self, store: Store) -> None:
        """Another org cannot delete an agent: False, as for an unknown id."""
        org, other = await add_org(store), await add_org(store)
        agent = agent_row(org.id)
        await store.create_agent(agent)
        assert await store.delete_agent(other.id, agent.id, now()) is False
        assert await store.delete_agent(org.id, new_id(), now()) is False
        assert await store.get_agent(org.id, agent.id) == agent

    async def test_credential_standing_reads_keys_and_agents_at_once(self, store: Store) -> None:
        """credential_standing names the unrevoked keys and the status of existing agents."""
        org = await add_org(store)
        live, revoked = api_key_row(org.id), api_key_row(org.id)
        await store.create_api_key(live, "hash-live")
        await store.create_api_key(revoked, "hash-revoked")
        await store.revoke_api_key(org.id, revoked.id, now())
        active, disabled, deleted = (agent_row(org.id) for _ in range(3))
        for agent in (active, disabled, deleted):
            await store.create_agent(agent)
        await store.update_agent(org.id, disabled.id, {"status": "disabled"})
        await store.delete_agent(org.id, deleted.id, now())
        unknown = new_id()
        standing = await store.credential_standing(
            [live.id, revoked.id, unknown, "not-a-uuid"],
            [active.id, disabled.id, deleted.id, unknown, "bot"],
        )
        assert standing.live_api_keys == {live.id}
        assert dict(standing.agents) == {active.id: "active", disabled.id: "disabled"}

    async def test_credential_standing_of_nothing_is_empty(self, store: Store) -> None:
        """Asking about no key and no agent answers empty sets."""
        standing = await store.credential_standing([], [])
        assert standing.live_api_keys == frozenset() and dict(standing.agents) == {}
