"""SQLite: bots, an org's first responders; deleting one takes it off its widgets."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import Bot
from storage.sqlite.database import Database
from storage.sqlite.values import SQLITE

__all__ = ["Bots"]

_INSERT = f"INSERT INTO bots VALUES ({', '.join('?' * 19)})"


class Bots(Database):
    async def create_bot(self, bot: Bot) -> None:
        await self._write(lambda c: c.execute(_INSERT, columns.bot(bot, SQLITE)))

    async def get_bot(self, org_id: str, bot_id: str) -> Bot | None:
        return await self._one(
            records.bot, "SELECT * FROM bots WHERE id = ? AND org_id = ?", (bot_id, org_id)
        )

    async def list_bots(self, org_id: str) -> list[Bot]:
        return await self._all(
            records.bot, "SELECT * FROM bots WHERE org_id = ? ORDER BY created_at, id", (org_id,)
        )

    async def update_bot(
        self, org_id: str, bot_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Bot | None:
        def txn(c: sqlite3.Connection) -> Bot | None:
            row = c.execute(
                "SELECT * FROM bots WHERE id = ? AND org_id = ?", (bot_id, org_id)
            ).fetchone()
            if row is None:
                return None
            bot = columns.bot_updates(records.bot(row), updates, at)
            c.execute("DELETE FROM bots WHERE id = ?", (bot_id,))
            c.execute(_INSERT, columns.bot(bot, SQLITE))
            return bot

        return await self._write(txn)

    async def delete_bot(self, org_id: str, bot_id: str) -> bool:
        def txn(c: sqlite3.Connection) -> bool:
            deleted = c.execute(
                "DELETE FROM bots WHERE id = ? AND org_id = ?", (bot_id, org_id)
            ).rowcount
            if deleted:
                c.execute(
                    "UPDATE widgets SET bot_id = NULL WHERE org_id = ? AND bot_id = ?",
                    (org_id, bot_id),
                )
            return bool(deleted)

        return await self._write(txn)
