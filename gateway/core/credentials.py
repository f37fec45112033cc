"""Whether what a caller's credential derives from still stands: its API key, its agent.

An agent or bot token minted with an API key carries that key's id, and renewing keeps it.
Every use of a staff credential is checked against the database: the API key it derives
from must be unrevoked and, for an agent, the agent must exist and be ``active``. To keep
that cheap, each process remembers the answers for ``cache_seconds`` (the same window as the
API-key cache): a change made through another process is seen here within that window, a
change made through this one (``key_revoked``, ``agent_changed``) at once. A revoked key is
remembered as revoked for good (revocation cannot be undone).

Refusals: a revoked API key is ``unauthorized`` (the credential is dead: get a new one); a
disabled or deleted agent is ``forbidden`` (the token is genuine, but that agent may not act).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from typing import Protocol, TypeVar

from protocol.codes import ErrorCode
from protocol.errors import GatewayError
from storage.base import Store
from storage.errors import StorageError

__all__ = ["Credentials", "Derived"]

log = logging.getLogger(__name__)

#: Most API keys and most agents one process remembers (the oldest is dropped first).
CACHE_SIZE = 10_000


class Derived(Protocol):
    """What a credential derives from (``core.auth.Principal`` provides it)."""

    @property
    def kind(self) -> str: ...

    @property
    def api_key_id(self) -> str | None:
        """The API key itself, or the one a token was minted with (None: a visitor, or a
        token minted before tokens carried their key)."""
        ...

    @property
    def agent_id(self) -> str | None: ...


D = TypeVar("D", bound=Derived)


class Credentials:
    """The standing of API keys and agents, read in batches and remembered briefly.

    Args:
        store: where the truth is.
        cache_seconds: how long an answer is used without reading it again (0: never).
    """

    def __init__(self, store: Store, *, cache_seconds: float) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        #: API key id -> monotonic expiry of "unrevoked", or None: revoked for good.
        self._keys: dict[str, float | None] = {}
        #: Agent id -> (status, or None when it is deleted or unknown; monotonic expiry).
        self._agents: dict[str, tuple[str | None, float]] = {}
        #: Called (without arguments, must not block) when this process revokes a key or
        #: changes an agent: the socket layer closes what no longer stands at once.
        self.on_change: list[Callable[[], None]] = []

    async def check(self, caller: Derived) -> None:
        """Refuse a caller whose API key or agent no longer stands, reading the database
        when the remembered answer is older than ``cache_seconds``.

        Raises:
            GatewayError: ``unauthorized`` (key revoked), ``forbidden`` (agent disabled or
                deleted), ``unavailable`` (the database could not be read).
        """
        now = time.monotonic()
        key, agent = caller.api_key_id, caller.agent_id
        stale_keys = [key] if key is not None and _stale(self._keys.get(key, 0.0), now) else []
        stale_agents = []
        if agent is not None and self._agents.get(agent, (None, 0.0))[1] <= now:
            stale_agents = [agent]
        if stale_keys or stale_agents:
            await self._read(stale_keys, stale_agents)
        refusal = self.refusal(caller)
        if refusal is not None:
            raise refusal

    async def recheck(self, callers: Iterable[D]) -> dict[D, GatewayError]:
        """Read the standing of every caller's key and agent now, in one store call, and
        return the refusal of each caller that no longer stands.

        Raises:
            GatewayError: ``unavailable`` when the database could not be read.
        """
        callers = set(callers)
        keys = {c.api_key_id for c in callers if c.api_key_id is not None}
        agents = {c.agent_id for c in callers if c.agent_id is not None}
        if keys or agents:
            await self._read(keys, agents)
        refusals = {}
        for caller in callers:
            refusal = self.refusal(caller)
            if refusal is not None:
                refusals[caller] = refusal
        return refusals

    def refusal(self, caller: Derived) -> GatewayError | None:
        """Why ``caller`` no longer stands, as far as this process knows (no read)."""
        key = caller.api_key_id
        if key is not None and key in self._keys and self._keys[key] is None:
            what = "this API key" if caller.kind == "api_key" else "the API key of this token"
            return GatewayError(ErrorCode.UNAUTHORIZED, f"{what} has been revoked")
        agent = caller.agent_id
        if agent is not None and agent in self._agents:
            status = self._agents[agent][0]
            if status is None:
                return GatewayError(ErrorCode.FORBIDDEN, "this agent has been deleted")
            if status != "active":
                return GatewayError(ErrorCode.FORBIDDEN, f"this agent is {status}")
        return None

    # -- changes made through this process ------------------------------------------------

    def key_revoked(self, api_key_id: str) -> None:
        """This process revoked a key: refuse it (and every token of it) from now on."""
        self._remember_key(api_key_id, None)
        self._changed()

    def agent_changed(self, agent_id: str, status: str | None) -> None:
        """This process changed an agent's status (None: deleted)."""
        self._remember_agent(agent_id, status, time.monotonic() + self._cache_seconds)
        self._changed()

    # -- internals ------------------------------------------------------------------------

    async def _read(self, keys: Collection[str], agents: Collection[str]) -> None:
        try:
            standing = await self._store.credential_standing(keys, agents)
        except StorageError:
            raise GatewayError(
                ErrorCode.UNAVAILABLE, "storage is unavailable, retry later", temporary=True
            ) from None
        expires = time.monotonic() + self._cache_seconds
        for key in keys:
            self._remember_key(key, expires if key in standing.live_api_keys else None)
        for agent in agents:
            self._remember_agent(agent, standing.agents.get(agent), expires)

    def _remember_key(self, key: str, expires: float | None) -> None:
        if self._keys.get(key, 0.0) is None:
            return  # revoked for good
        self._keys.pop(key, None)
        self._keys[key] = expires
        if len(self._keys) > CACHE_SIZE:
            del self._keys[next(iter(self._keys))]

    def _remember_agent(self, agent: str, status: str | None, expires: float) -> None:
        self._agents.pop(agent, None)
        self._agents[agent] = (status, expires)
        if len(self._agents) > CACHE_SIZE:
            del self._agents[next(iter(self._agents))]

    def _changed(self) -> None:
        for callback in self.on_change:
            try:
                callback()
            except Exception:
                log.exception("a credential change listener failed")


def _stale(expires: float | None, now: float) -> bool:
    """A remembered key answer needs reading again: revoked is final, unrevoked expires."""
    return expires is not None and expires <= now
