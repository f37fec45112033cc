"""PostgreSQL: bots, an org's first responders; deleting one takes it off its widgets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage import columns, records
from storage.models import Bot
from storage.postgres.database import Database, rowcount
from storage.postgres.values import POSTGRES

__all__ = ["Bots"]

_COLUMNS = 19
_INSERT = f"INSERT INTO bots VALUES ({', '.join(f'${n}' for n in range(1, _COLUMNS + 1))})"
#: The whole row written back (id and org unchanged), from ``columns.bot``'s values.
_UPDATE = (
    "UPDATE bots SET (name, kind, confidence_threshold, unknown_answer, handoff_after,"
    " handoff_phrases, fallback_answer, handoff_on_failure, timeout_seconds, llm_base_url,"
    " llm_model, llm_system_prompt, llm_api_key, webhook_url, webhook_secret, created_at,"
    " updated_at) = ("
    + ", ".join(f"${n}" for n in range(3, _COLUMNS + 1))
    + ") WHERE id = $1 AND org_id = $2"
)


class Bots(Database):
    async def create_bot(self, bot: Bot) -> None:
        await self._execute(_INSERT, *columns.bot(bot, POSTGRES))

    async def get_bot(self, org_id: str, bot_id: str) -> Bot | None:
        return await self._one(
            records.bot, "SELECT * FROM bots WHERE id = $1 AND org_id = $2", bot_id, org_id
        )

    async def list_bots(self, org_id: str) -> list[Bot]:
        return await self._all(
            records.bot, "SELECT * FROM bots WHERE org_id = $1 ORDER BY created_at, id", org_id
        )

    async def update_bot(
        self, org_id: str, bot_id: str, updates: Mapping[str, Any], at: datetime
    ) -> Bot | None:
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM bots WHERE id = $1 AND org_id = $2 FOR UPDATE", bot_id, org_id
            )
            if row is None:
                return None
            bot = columns.bot_updates(records.bot(row), updates, at)
            await conn.execute(_UPDATE, *columns.bot(bot, POSTGRES))
            return bot

    async def delete_bot(self, org_id: str, bot_id: str) -> bool:
        async with self._transaction() as conn:
            status = await conn.execute(
                "DELETE FROM bots WHERE id = $1 AND org_id = $2", bot_id, org_id
            )
            if not rowcount(status):
                return False
            await conn.execute(
                "UPDATE widgets SET bot_id = NULL WHERE org_id = $1 AND bot_id = $2",
                org_id,
                bot_id,
            )
            return True
