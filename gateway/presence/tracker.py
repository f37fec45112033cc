"""The presence service: what each local socket says (``online``, ``away``), which
conversations it has open, shared with every node through ``Leases``.

- An agent is ``online`` while any of its sockets on any node says online, ``away`` while
  its sockets say only away, ``offline`` otherwise.
- Each entry lives ``ttl`` (60 s) unless refreshed. This node refreshes its own sockets'
  entries every ``refresh`` (20 s: the dashboard's heartbeat period), so a live socket stays
  present and the entries of a node that died expire within ``ttl``. The same tick sweeps the
  orgs this node has agents in: an agent whose last entries expired there goes ``offline``
  (the node whose read removed them says so, once).
- A socket that closes takes its entries with it at once: ``presence`` ``offline`` if it was
  the agent's last, ``viewing`` off for each conversation it had open.

``presence`` events go to the org's inbox room, ``viewing`` events to the conversation's
room (staff sockets only: ``gateway.realtime.push``); both are volatile, so each node's view
is also readable: ``statuses`` (``GET /v1/agents/presence``) and ``viewers``
(``GET /v1/conversations/{id}/viewers``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from gateway.core.publishing import EventPublisher
from gateway.presence.leases import Leases
from gateway.presence.redis import LeasesUnavailable
from protocol.events import PresenceChanged, ViewingChanged

__all__ = ["OFFLINE", "Presence", "Viewer"]

log = logging.getLogger(__name__)

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
#: Seconds an entry lives unless refreshed; seconds between refreshes.
TTL = 60.0
REFRESH = 20.0


@dataclass(frozen=True, slots=True)
class Viewer:
    agent_id: str
    name: str | None


@dataclass(slots=True)
class _Local:
    """One local socket's presence and the conversations it has open."""

    org_id: str
    agent_id: str
    name: str | None
    status: str | None = None
    viewing: set[str] = field(default_factory=set)


class Presence:
    """Presence and viewers, across nodes.

    Args:
        leases: the shared table (memory or Redis).
        publisher: where ``presence`` and ``viewing`` events go.
        ttl: seconds an entry lives unless refreshed.
        refresh: seconds between this node's refreshes and sweeps.

    Raises (every method but ``leave``, ``start`` and ``aclose``):
        LeasesUnavailable: Redis did not answer.
    """

    def __init__(
        self,
        leases: Leases,
        publisher: EventPublisher,
        *,
        ttl: float = TTL,
        refresh: float = REFRESH,
    ) -> None:
        self._leases = leases
        self._publisher = publisher
        self._ttl = ttl
        self._refresh = refresh
        self._local: dict[str, _Local] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._leases.start()
        self._task = asyncio.create_task(self._tick())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for session_id in tuple(self._local):
            await self.leave(session_id)
        await self._leases.aclose()

    # -- presence -------------------------------------------------------------------------

    async def set_status(
        self, session_id: str, org_id: str, agent_id: str, name: str | None, status: str
    ) -> str:
        """Record what one socket says; returns the agent's status now. Publishes
        ``presence`` when it changed."""
        local = self._local.setdefault(session_id, _Local(org_id, agent_id, name))
        before = await self.status_of(org_id, agent_id)
        local.status = status
        await self._leases.put(
            _presence_key(org_id), _field(agent_id, session_id), status, self._ttl
        )
        after = await self.status_of(org_id, agent_id)
        if after != before:
            await self._publisher.publish(org_id, (PresenceChanged(agent_id, after),))
        return after

    async def status_of(self, org_id: str, agent_id: str) -> str:
        read = await self._leases.read(_presence_key(org_id))
        return _aggregate(read.live).get(agent_id, OFFLINE)

    async def statuses(self, org_id: str) -> dict[str, str]:
        """Every agent of the org that is not offline, with its status."""
        read = await self._leases.read(_presence_key(org_id))
        return _aggregate(read.live)

    # -- viewing --------------------------------------------------------------------------

    async def set_viewing(
        self,
        session_id: str,
        org_id: str,
        agent_id: str,
        name: str | None,
        conversation_id: str,
        on: bool,
    ) -> None:
        """Record that one socket has a conversation open (or closed it); publishes
        ``viewing`` to the conversation's staff."""
        local = self._local.setdefault(session_id, _Local(org_id, agent_id, name))
        key = _viewers_key(conversation_id)
        if on:
            local.viewing.add(conversation_id)
            await self._leases.put(key, _field(agent_id, session_id), name or "", self._ttl)
        else:
            local.viewing.discard(conversation_id)
            await self._leases.remove(key, _field(agent_id, session_id))
        event = ViewingChanged(conversation_id, agent_id, name, on)
        await self._publisher.publish(org_id, (event,))

    async def viewers(self, conversation_id: str) -> list[Viewer]:
        """The agents that have the conversation open (each once), on any node."""
        read = await self._leases.read(_viewers_key(conversation_id))
        seen: dict[str, Viewer] = {}
        for entry, name in sorted(read.live.items()):
            agent_id = entry.partition("|")[0]
            seen.setdefault(agent_id, Viewer(agent_id, name or None))
        return list(seen.values())

    # -- sockets --------------------------------------------------------------------------

    async def leave(self, session_id: str) -> None:
        """A socket closed: drop its entries, tell the others (its agent's new status, when
        it changed: ``offline`` if it was the last socket). Never raises."""
        local = self._local.pop(session_id, None)
        if local is None:
            return
        entry = _field(local.agent_id, session_id)
        try:
            for conversation_id in sorted(local.viewing):
                await self._leases.remove(_viewers_key(conversation_id), entry)
                event = ViewingChanged(conversation_id, local.agent_id, local.name, False)
                await self._publisher.publish(local.org_id, (event,))
            if local.status is not None:
                before = await self.status_of(local.org_id, local.agent_id)
                await self._leases.remove(_presence_key(local.org_id), entry)
                after = await self.status_of(local.org_id, local.agent_id)
                if after != before:
                    event_p = PresenceChanged(local.agent_id, after)
                    await self._publisher.publish(local.org_id, (event_p,))
        except LeasesUnavailable as exc:
            log.warning("presence of session %s not cleared (%s); it expires", session_id, exc)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._refresh)
            try:
                await self.refresh()
            except LeasesUnavailable as exc:
                log.warning("presence refresh failed (%s); retrying next tick", exc)
            except Exception:
                log.exception("presence refresh failed")

    async def refresh(self) -> None:
        """Refresh this node's entries, then sweep its orgs for agents whose entries
        expired (a node that died): each goes ``offline``."""
        orgs: set[str] = set()
        for session_id, local in tuple(self._local.items()):
            entry = _field(local.agent_id, session_id)
            if local.status is not None:
                orgs.add(local.org_id)
                key = _presence_key(local.org_id)
                await self._leases.put(key, entry, local.status, self._ttl)
            for conversation_id in tuple(local.viewing):
                await self._leases.put(
                    _viewers_key(conversation_id), entry, local.name or "", self._ttl
                )
        for org_id in sorted(orgs):
            read = await self._leases.read(_presence_key(org_id))
            present = _aggregate(read.live)
            gone = {f.partition("|")[0] for f in read.expired} - set(present)
            events = [PresenceChanged(agent_id, OFFLINE) for agent_id in sorted(gone)]
            if events:
                await self._publisher.publish(org_id, events)


def _presence_key(org_id: str) -> str:
    return f"presence:{org_id}"


def _viewers_key(conversation_id: str) -> str:
    return f"viewers:{conversation_id}"


def _field(agent_id: str, session_id: str) -> str:
    return f"{agent_id}|{session_id}"


def _aggregate(live: dict[str, str]) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for entry, status in live.items():
        agent_id = entry.partition("|")[0]
        if status == ONLINE or agent_id not in statuses:
            statuses[agent_id] = status
    return statuses
