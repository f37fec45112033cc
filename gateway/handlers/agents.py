"""Agents: read, change, disable and delete them (creating and listing are in ``admin``).

Disabling or deleting an agent refuses its tokens at once in this process and within
``api_key_cache_seconds`` in every other one; the socket layer closes its open sockets
(``realtime.revocation``). A deleted agent answers ``not_found`` everywhere, but its
messages keep their ``sender_id``.

``set_agent_status`` and ``delete_agent`` are the same operations for callers without a
running gateway (``chatgate agents ...``): they change the database, and every running
gateway sees the change within its cache window.
"""

from __future__ import annotations

from typing import Any

from msgspec import UNSET

from gateway.core.access import admin_org
from gateway.core.bus import Context
from gateway.core.credentials import Credentials
from gateway.core.results import Deleted
from protocol import commands as cmd
from protocol.errors import GatewayError
from storage.base import Store
from storage.models import Agent, now

__all__ = ["AgentHandlers", "delete_agent", "set_agent_status"]


class AgentHandlers:
    def __init__(self, store: Store, credentials: Credentials) -> None:
        self._store = store
        self._credentials = credentials

    async def get_agent(self, ctx: Context, c: cmd.GetAgent) -> Agent:
        agent = await self._store.get_agent(admin_org(ctx), str(c.agent_id))
        if agent is None:
            raise GatewayError.not_found("agent")
        return agent

    async def update_agent(self, ctx: Context, c: cmd.UpdateAgent) -> Agent:
        updates: dict[str, Any] = {
            name: getattr(c, name)
            for name in ("name", "email", "status", "role")
            if getattr(c, name) is not UNSET
        }
        agent = await self._store.update_agent(admin_org(ctx), str(c.agent_id), updates)
        if agent is None:
            raise GatewayError.not_found("agent")
        if "status" in updates:
            self._credentials.agent_changed(agent.id, agent.status)
        return agent

    async def delete_agent(self, ctx: Context, c: cmd.DeleteAgent) -> Deleted:
        agent_id = str(c.agent_id)
        if not await delete_agent(self._store, admin_org(ctx), agent_id):
            raise GatewayError.not_found("agent")
        self._credentials.agent_changed(agent_id, None)
        return Deleted(agent_id)


async def set_agent_status(store: Store, org_id: str, agent_id: str, status: str) -> Agent | None:
    """Make an agent ``active`` or ``disabled``; None if the org has no such agent."""
    return await store.update_agent(org_id, agent_id, {"status": status})


async def delete_agent(store: Store, org_id: str, agent_id: str) -> bool:
    """Delete an agent; False if the org has no such agent."""
    return await store.delete_agent(org_id, agent_id, now())
