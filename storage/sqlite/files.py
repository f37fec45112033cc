"""SQLite: files, content-addressed per org (the same bytes are stored once)."""

from __future__ import annotations

import sqlite3

from storage import records
from storage.models import StoredFile
from storage.sqlite.database import Database
from storage.sqlite.values import ts

__all__ = ["Files"]

#: A file's description, without its bytes.
FILE_QUERY = (
    "SELECT org_id, sha256, mime, size, created_at FROM files WHERE org_id = ? AND sha256 = ?"
)


class Files(Database):
    async def put_file(self, file: StoredFile, data: bytes) -> StoredFile:
        def txn(c: sqlite3.Connection) -> sqlite3.Row:
            c.execute(
                "INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                (file.org_id, file.sha256, file.mime, file.size, data, ts(file.created_at)),
            )
            row: sqlite3.Row = c.execute(FILE_QUERY, (file.org_id, file.sha256)).fetchone()
            return row

        return records.stored_file(await self._write(txn))

    async def get_file(self, org_id: str, sha256: str) -> StoredFile | None:
        return await self._one(records.stored_file, FILE_QUERY, (org_id, sha256))

    async def read_file(self, org_id: str, sha256: str) -> tuple[StoredFile, bytes] | None:
        row = await self._read(
            lambda c: c.execute(
                "SELECT * FROM files WHERE org_id = ? AND sha256 = ?", (org_id, sha256)
            ).fetchone()
        )
        return None if row is None else (records.stored_file(row), bytes(row["data"]))
