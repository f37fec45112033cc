"""Closing the open sockets of revoked API keys and disabled or deleted agents.

Every node keeps the set of its staff sockets (API keys, agent and bot tokens). Every
``interval`` seconds, when it has any, it reads the standing of their distinct API keys and
agents in one store call and closes each socket that no longer stands: ``4001`` when its API
key (or the key its token was minted with) is revoked, ``4003`` when its agent is disabled or
deleted. The database is the source of truth, so a node sees a change made through any other
node, or by ``chatgate agents`` without a gateway, within one ``interval``; a change made
through this node wakes the check at once. A failed read is logged and tried again at the
next tick: sockets are never closed because the database was briefly away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gateway.core.credentials import Credentials
from gateway.realtime.session import Session
from protocol.codes import CloseCode, ErrorCode
from protocol.errors import GatewayError

__all__ = ["CredentialWatch", "close_code_of"]

log = logging.getLogger(__name__)


def close_code_of(refusal: GatewayError) -> CloseCode:
    """The close code of a socket whose credential was refused."""
    return CloseCode.FORBIDDEN if refusal.code is ErrorCode.FORBIDDEN else CloseCode.UNAUTHENTICATED


class CredentialWatch:
    """The staff sockets of this node, and the loop that closes those no longer standing.

    Args:
        credentials: the standing of API keys and agents (``Authenticator.credentials``).
        interval: seconds between two checks.
    """

    def __init__(self, credentials: Credentials, *, interval: float) -> None:
        self._credentials = credentials
        self._interval = interval
        self._sessions: set[Session] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        credentials.on_change.append(self.wake)

    def add(self, session: Session) -> None:
        """Watch an authenticated socket (visitors' sockets are not watched)."""
        principal = session.principal
        if principal is not None and (principal.api_key_id or principal.agent_id):
            self._sessions.add(session)

    def discard(self, session: Session) -> None:
        self._sessions.discard(session)

    def wake(self) -> None:
        """Check now (a credential changed through this node)."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="credential-watch")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(ValueError):
            self._credentials.on_change.remove(self.wake)

    async def sweep(self) -> int:
        """Check every watched socket now and close those that no longer stand; returns how
        many were closed.

        Raises:
            GatewayError: ``unavailable`` when the database could not be read.
        """
        # Only sessions with a principal are ever added.
        watched = [(s, s.principal) for s in self._sessions if s.principal is not None]
        if not watched:
            return 0
        refusals = await self._credentials.recheck(principal for _, principal in watched)
        closed = 0
        for session, principal in watched:
            refusal = refusals.get(principal)
            if refusal is not None:
                self._sessions.discard(session)
                session.fail(close_code_of(refusal), refusal.message)
                closed += 1
        return closed

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wakeup.wait()
            self._wakeup.clear()
            try:
                closed = await self.sweep()
            except GatewayError as exc:
                log.warning("checking open sockets' credentials failed (%s); retrying", exc)
            except Exception:
                log.exception("checking open sockets' credentials failed; retrying")
            else:
                if closed:
                    log.info("closed %d socket(s) of revoked or disabled credentials", closed)
