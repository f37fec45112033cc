"""PostgreSQL: the gateway processes using the database (node leases).

Registration is atomic under an advisory lock: of two nodes registering at once, the second
sees the first.
"""

from __future__ import annotations

from datetime import datetime

from storage import records
from storage.models import NodeLease
from storage.postgres.database import Database, rowcount

__all__ = ["Nodes"]

#: Key of the advisory lock that makes node registration atomic.
NODES_LOCK = 0x6E6F6465  # "node"


class Nodes(Database):
    async def register_node(self, node: NodeLease, live_after: datetime) -> list[NodeLease]:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", NODES_LOCK)
            others = await conn.fetch(
                "SELECT * FROM nodes WHERE id != $1 AND seen_at > $2", node.id, live_after
            )
            await conn.execute(
                "INSERT INTO nodes VALUES ($1, $2, $3, $4, $5, $6)"
                " ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
                node.id,
                node.host,
                node.pid,
                node.broker,
                node.started_at,
                node.seen_at,
            )
        return [records.node(r) for r in others]

    async def heartbeat_node(self, node_id: str, at: datetime) -> None:
        await self._execute("UPDATE nodes SET seen_at = $2 WHERE id = $1", node_id, at)

    async def remove_node(self, node_id: str) -> None:
        await self._execute("DELETE FROM nodes WHERE id = $1", node_id)

    async def purge_nodes(self, before: datetime) -> int:
        return rowcount(await self._execute("DELETE FROM nodes WHERE seen_at < $1", before))
