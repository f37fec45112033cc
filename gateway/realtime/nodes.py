"""Gateway nodes: every process records itself in the database, with a heartbeat, and
refuses to start where it could not see the others' events.

- A process refuses to start next to another live process on the same database when either
  of them uses the in-process broker: their sockets would miss each other's events.
- A SQLite database refuses a live process on another host: SQLite is one machine's file.

A lease is live while its heartbeat is younger than ``NODE_LEASE``. A lease left behind by a
process of this host that no longer exists (killed) is ignored, so a restart is never refused
because of its own crashed predecessor.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from storage.base import Store
from storage.models import NodeLease, now

__all__ = [
    "NODE_HEARTBEAT",
    "NODE_LEASE",
    "StartupRefused",
    "conflict",
    "heartbeat",
    "register",
    "unregister",
]

log = logging.getLogger(__name__)

NODE_HEARTBEAT = 5.0
NODE_LEASE = timedelta(seconds=15)


class StartupRefused(RuntimeError):
    """This process must not serve next to the ones already using the database."""


def conflict(
    me: NodeLease, others: list[NodeLease], *, local_broker: bool, sqlite: bool
) -> str | None:
    """Why ``me`` may not run next to ``others``, or None."""
    for other in others:
        same_process = other.host == me.host and other.pid == me.pid
        if same_process:
            continue
        if local_broker or other.broker == "memory":
            return (
                f"another chatgate process (pid {other.pid} on {other.host}) uses this "
                "database, and the in-process broker cannot carry events between them: set "
                "CHATGATE_REDIS_URL on every process, or run one process"
            )
        if sqlite and other.host != me.host:
            return (
                f"a chatgate process on another host ({other.host}) uses this SQLite "
                "database; SQLite is one machine's file: use PostgreSQL for several hosts"
            )
    return None


async def register(store: Store, *, local_broker: bool, sqlite: bool) -> NodeLease:
    """Record this process, or raise ``StartupRefused`` (and record nothing)."""
    at = now()
    me = NodeLease(
        id=uuid.uuid4().hex,
        host=socket.gethostname(),
        pid=os.getpid(),
        broker="memory" if local_broker else "redis",
        started_at=at,
        seen_at=at,
    )
    others = [n for n in await store.register_node(me, at - NODE_LEASE) if not _dead(me, n)]
    problem = conflict(me, others, local_broker=local_broker, sqlite=sqlite)
    if problem is not None:
        await store.remove_node(me.id)
        raise StartupRefused(problem)
    return me


async def unregister(store: Store, node: NodeLease) -> None:
    """Remove this process's lease (best effort: it also expires on its own)."""
    try:
        await store.remove_node(node.id)
    except Exception as exc:
        log.warning("could not remove node %s: %s", node.id, exc)


async def heartbeat(store: Store, node: NodeLease) -> None:
    """Keep ``node``'s lease alive until cancelled."""
    while True:
        await asyncio.sleep(NODE_HEARTBEAT)
        try:
            await store.heartbeat_node(node.id, now())
        except Exception:
            log.exception("node heartbeat failed")


def _dead(me: NodeLease, other: NodeLease) -> bool:
    if other.host != me.host or other.pid == me.pid:
        return False
    try:
        os.kill(other.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
