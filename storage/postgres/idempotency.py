"""PostgreSQL: stored ``Idempotency-Key`` requests and their responses.

Two requests claiming one key at once are settled by ``ON CONFLICT``: one inserts, the other
reads the first's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from storage import records
from storage.models import IdempotencyRecord
from storage.postgres.database import Database, rowcount

__all__ = ["Idempotency"]


class Idempotency(Database):
    async def claim_idempotency_key(
        self, scope: str, key: str, request_hash: str, at: datetime, ttl: timedelta
    ) -> IdempotencyRecord | None:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3",
                scope,
                key,
                at - ttl,
            )
            claimed = await conn.fetchval(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
                scope,
                key,
                request_hash,
                at,
            )
            if claimed:
                return None
            row = await conn.fetchrow(
                "SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
            )
        return records.idempotency(row)

    async def finish_idempotency_key(
        self, scope: str, key: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        await self._execute(
            "UPDATE idempotency_keys SET status = $3, headers = $4, body = $5"
            " WHERE scope = $1 AND key = $2",
            scope,
            key,
            status,
            dict(headers),
            body,
        )

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotencyRecord | None:
        return await self._one(
            records.idempotency,
            "SELECT * FROM idempotency_keys WHERE scope = $1 AND key = $2",
            scope,
            key,
        )

    async def release_idempotency_key(self, scope: str, key: str) -> None:
        await self._execute(
            "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL",
            scope,
            key,
        )

    async def purge_idempotency_keys(self, before: datetime, limit: int | None = None) -> int:
        status = await self._execute(
            "DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key"
            " FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2"
            " FOR UPDATE SKIP LOCKED)",
            before,
            limit,
        )
        return rowcount(status)
