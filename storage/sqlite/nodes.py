"""SQLite: the gateway processes using the database (node leases).

Registration is atomic without a lock of its own: it is one write transaction, and SQLite
has one writer at a time.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from storage import records
from storage.models import NodeLease
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["Nodes"]


class Nodes(Database):
    async def register_node(self, node: NodeLease, live_after: datetime) -> list[NodeLease]:
        def txn(c: sqlite3.Connection) -> list[NodeLease]:
            others = c.execute(
                "SELECT * FROM nodes WHERE id != ? AND seen_at > ?", (node.id, ts(live_after))
            ).fetchall()
            c.execute(
                "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?)",
                (
                    node.id,
                    node.host,
                    node.pid,
                    node.broker,
                    ts(node.started_at),
                    ts(node.seen_at),
                ),
            )
            return [records.node(r) for r in others]

        return await self._write(txn)

    async def heartbeat_node(self, node_id: str, at: datetime) -> None:
        await self._write(
            lambda c: c.execute("UPDATE nodes SET seen_at = ? WHERE id = ?", (ts(at), node_id))
        )

    async def remove_node(self, node_id: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM nodes WHERE id = ?", (node_id,)))

    async def purge_nodes(self, before: datetime) -> int:
        cursor = await self._write(
            lambda c: c.execute("DELETE FROM nodes WHERE seen_at < ?", (ts(before),))
        )
        return int(cursor.rowcount)
