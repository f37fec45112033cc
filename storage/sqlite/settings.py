"""SQLite: named settings the gateway processes share (stored once, read by all)."""

from __future__ import annotations

import sqlite3

from storage.sqlite.database import Database

__all__ = ["Settings"]


class Settings(Database):
    async def get_or_create_setting(self, name: str, value: str) -> str:
        def txn(c: sqlite3.Connection) -> str:
            c.execute("INSERT OR IGNORE INTO settings VALUES (?, ?)", (name, value))
            row = c.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
            return str(row["value"])

        return await self._write(txn)
