"""SQLite: stored ``Idempotency-Key`` requests and their responses.

A claim reads and then inserts in one write transaction; SQLite's single writer makes that
atomic.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta

from storage import records
from storage.models import IdempotencyRecord
from storage.sqlite.database import Database
from storage.sqlite.values import json_text, ts

__all__ = ["Idempotency"]


class Idempotency(Database):
    async def claim_idempotency_key(
        self, scope: str, key: str, request_hash: str, at: datetime, ttl: timedelta
    ) -> IdempotencyRecord | None:
        def txn(c: sqlite3.Connection) -> IdempotencyRecord | None:
            row = c.execute(
                "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key)
            ).fetchone()
            if row is not None:
                record = records.idempotency(row)
                if record.created_at >= at - ttl:
                    return record
                c.execute("DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, key))
            c.execute(
                "INSERT INTO idempotency_keys (scope, key, request_hash, created_at)"
                " VALUES (?, ?, ?, ?)",
                (scope, key, request_hash, ts(at)),
            )
            return None

        return await self._write(txn)

    async def finish_idempotency_key(
        self, scope: str, key: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> None:
        await self._write(
            lambda c: c.execute(
                "UPDATE idempotency_keys SET status = ?, headers = ?, body = ?"
                " WHERE scope = ? AND key = ?",
                (status, json_text(dict(headers)), body, scope, key),
            )
        )

    async def get_idempotency_key(self, scope: str, key: str) -> IdempotencyRecord | None:
        return await self._one(
            records.idempotency,
            "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?",
            (scope, key),
        )

    async def release_idempotency_key(self, scope: str, key: str) -> None:
        await self._write(
            lambda c: c.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND status IS NULL",
                (scope, key),
            )
        )

    async def purge_idempotency_keys(self, before: datetime, limit: int | None = None) -> int:
        cursor = await self._write(
            lambda c: c.execute(
                "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys"
                " WHERE created_at < ? ORDER BY created_at LIMIT ?)",
                (ts(before), -1 if limit is None else limit),
            )
        )
        return int(cursor.rowcount)
