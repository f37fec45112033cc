"""Node leases: who may serve next to whom on one database."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from gateway.realtime import nodes
from storage.models import NodeLease, now
from storage.sqlite import SQLiteStore


def lease(host: str = "h1", pid: int = 100, broker: str = "redis") -> NodeLease:
    at = now()
    return NodeLease(f"{host}-{pid}", host, pid, broker, at, at)


def test_nodes_conflict_rules() -> None:
    """The in-process broker tolerates only its own process; SQLite only its own host."""
    me = lease("h1", 1)
    same_process, same_host, other_host = lease("h1", 1), lease("h1", 2), lease("h2", 3)
    assert nodes.conflict(me, [same_process], local_broker=True, sqlite=True) is None
    message = nodes.conflict(me, [same_host], local_broker=True, sqlite=False)
    assert message is not None and "CHATGATE_REDIS_URL" in message
    assert nodes.conflict(me, [same_host], local_broker=False, sqlite=True) is None
    lone = lease("h1", 2, broker="memory")
    message = nodes.conflict(me, [lone], local_broker=False, sqlite=False)
    assert message is not None, "a Redis newcomer cannot join a process on the in-process broker"
    message = nodes.conflict(me, [other_host], local_broker=False, sqlite=True)
    assert message is not None and "use PostgreSQL" in message
    assert nodes.conflict(me, [other_host], local_broker=False, sqlite=False) is None


def exited_pid() -> int:
    """The pid of a process that has already exited."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout)


async def test_nodes_register_ignores_a_dead_predecessor(sqlite_store: SQLiteStore) -> None:
    """A lease left by a killed process of this host does not block a restart."""
    dead_pid = exited_pid()
    await sqlite_store.register_node(lease(socket.gethostname(), dead_pid, "memory"),
                                     now() - timedelta(hours=1))  # fmt: skip
    me = await nodes.register(sqlite_store, local_broker=True, sqlite=True)
    assert me.broker == "memory"


async def test_nodes_refusal_leaves_no_lease(sqlite_store: SQLiteStore) -> None:
    """A refused process removes its own lease, so it never blocks anyone else."""
    await sqlite_store.register_node(lease("elsewhere", 7), now() - timedelta(hours=1))
    with pytest.raises(nodes.StartupRefused, match="another host"):
        await nodes.register(sqlite_store, local_broker=False, sqlite=True)
    live = await sqlite_store.register_node(lease("probe", 9), now() - timedelta(hours=1))
    assert [n.host for n in live] == ["elsewhere"]


async def test_nodes_unregister_tolerates_a_closed_store(sqlite_store: SQLiteStore) -> None:
    """Leaving at shutdown never fails, even if the database is already gone."""
    me = await nodes.register(sqlite_store, local_broker=False, sqlite=True)
    await sqlite_store.aclose()
    await nodes.unregister(sqlite_store, me)
