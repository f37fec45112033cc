"""PostgreSQL: named settings the gateway processes share (stored once, read by all).

Of two nodes creating one setting at once, ``ON CONFLICT`` keeps the first's value for both.
"""

from __future__ import annotations

from storage.postgres.database import Database

__all__ = ["Settings"]


class Settings(Database):
    async def get_or_create_setting(self, name: str, value: str) -> str:
        async with self._connection() as conn:
            await conn.execute(
                "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", name, value
            )
            stored = await conn.fetchval("SELECT value FROM settings WHERE name = $1", name)
        return str(stored)
