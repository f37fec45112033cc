"""Presence and collision handlers: ``presence`` and ``viewing`` (socket ops of agents),
``GET /v1/agents/presence`` and ``GET /v1/conversations/{id}/viewers`` (staff)."""

from __future__ import annotations

from gateway.core.auth import Principal, is_staff
from gateway.core.bus import Context
from gateway.core.results import AgentPresence, Viewer
from gateway.presence.redis import LeasesUnavailable
from gateway.presence.tracker import OFFLINE, Presence
from protocol import commands as cmd
from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store

__all__ = ["PresenceHandlers"]


class PresenceHandlers:
    """Who is online, who is viewing what."""

    def __init__(self, store: Store, presence: Presence) -> None:
        self._store = store
        self._presence = presence

    async def set_presence(self, ctx: Context, c: cmd.SetPresence) -> AgentPresence:
        principal, session_id = self._agent_socket(ctx, "presence")
        name = await self._name(principal)
        assert principal.agent_id is not None
        try:
            status = await self._presence.set_status(
                session_id, principal.org_id, principal.agent_id, name, c.status
            )
        except LeasesUnavailable as exc:
            raise _unavailable(exc) from None
        return AgentPresence(principal.agent_id, name, status)

    async def set_viewing(self, ctx: Context, c: cmd.SetViewing) -> dict[str, object]:
        principal, session_id = self._agent_socket(ctx, "viewing")
        conversation = await self._store.get_conversation(principal.org_id, str(c.conversation_id))
        if conversation is None:
            raise GatewayError.not_found("conversation")
        assert principal.agent_id is not None
        try:
            await self._presence.set_viewing(
                session_id,
                principal.org_id,
                principal.agent_id,
                await self._name(principal),
                conversation.id,
                c.on,
            )
        except LeasesUnavailable as exc:
            raise _unavailable(exc) from None
        return {}

    async def list_presence(self, ctx: Context, c: cmd.ListPresence) -> dict[str, object]:
        principal = _staff(ctx)
        agents = await self._store.list_agents(principal.org_id)
        try:
            statuses = await self._presence.statuses(principal.org_id)
        except LeasesUnavailable as exc:
            raise _unavailable(exc) from None
        return {
            "data": [
                AgentPresence(agent.id, agent.name, statuses.get(agent.id, OFFLINE))
                for agent in agents
            ]
        }

    async def list_viewers(self, ctx: Context, c: cmd.ListViewers) -> dict[str, object]:
        principal = _staff(ctx)
        conversation = await self._store.get_conversation(principal.org_id, str(c.conversation_id))
        if conversation is None:
            raise GatewayError.not_found("conversation")
        try:
            viewers = await self._presence.viewers(conversation.id)
        except LeasesUnavailable as exc:
            raise _unavailable(exc) from None
        return {"data": [Viewer(v.agent_id, v.name) for v in viewers]}

    def _agent_socket(self, ctx: Context, op: str) -> tuple[Principal, str]:
        principal = ctx.require()
        if principal.kind != "agent":
            raise GatewayError(ErrorCode.FORBIDDEN, f"{op} is an agent's (use an agent token)")
        if ctx.session_id is None:
            raise GatewayError(ErrorCode.BAD_REQUEST, f"{op} is a socket op")
        return principal, ctx.session_id

    async def _name(self, principal: Principal) -> str | None:
        assert principal.agent_id is not None
        agent = await self._store.get_agent(principal.org_id, principal.agent_id)
        return None if agent is None else agent.name


def _staff(ctx: Context) -> Principal:
    principal = ctx.require()
    if not is_staff(principal):
        raise GatewayError(ErrorCode.FORBIDDEN, "staff only (an agent or an API key)")
    return principal


def _unavailable(exc: LeasesUnavailable) -> GatewayError:
    return GatewayError(ErrorCode.UNAVAILABLE, f"presence is unavailable: {exc}", temporary=True)
