"""Provision an org: the org itself, one API key, one widget and one agent.

Used by ``chatgate orgs create``, the first start of ``chatgate serve`` on an empty database,
and the load-test harness.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from gateway.core.auth import new_api_key
from storage.base import Store
from storage.models import Agent, ApiKey, Org, Widget, now

__all__ = ["OrgCredentials", "create_org"]


@dataclass(frozen=True, slots=True)
class OrgCredentials:
    """What ``chatgate orgs create`` prints: everything needed to start using an org."""

    org_id: str
    api_key: str
    widget_id: str
    agent_id: str


async def create_org(
    store: Store,
    name: str,
    *,
    allowed_origins: tuple[str, ...] = ("*",),
    monthly_message_limit: int | None = None,
) -> OrgCredentials:
    """Create an org with one API key, one widget and one agent."""
    at = now()
    org = Org(str(uuid.uuid4()), name, monthly_message_limit, at)
    key = new_api_key()
    api_key = ApiKey(str(uuid.uuid4()), org.id, "default", key.prefix, at)
    widget = Widget(str(uuid.uuid4()), org.id, "Website", allowed_origins, None, None, at)
    agent = Agent(str(uuid.uuid4()), org.id, "First agent", None, at)
    await store.create_org(org)
    await store.create_api_key(api_key, key.hash)
    await store.create_widget(widget)
    await store.create_agent(agent)
    return OrgCredentials(org.id, key.secret, widget.id, agent.id)
